"""A second connection used right on the event loop, for the hot paths' short operations.

Why (measured): see connection.py. What may run here: operations of a few point
statements by key, whose time is bounded and small (tens of µs); never a scan, which
would hold up every request of the process while it runs.

Locks: this connection never waits inside SQLite (busy_timeout 0). An operation that
meets another connection's write lock (the other worker process's, or this process's
thread's) fails with SQLITE_BUSY before anything of it is written, or is rolled back by
`in_write_transaction`, and is run again from its start after an asyncio sleep. Its
whole transaction runs in one synchronous call, so it never holds a lock across an
`await`, and a caller cancelled while it waits leaves nothing behind.

Checkpoints: SQLite copies the WAL back into the database when a commit crosses 1000
pages, in the committing connection, with an fsync; on the loop that would stall every
request of the process. This connection's automatic checkpoint is off, and every
CHECKPOINT_EVERY commits it asks the thread's connection for a passive checkpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

from tollgate.store.records import StoreUnavailable
from tollgate.store.sqlite.connection import (
    BUSY_TIMEOUT_MS,
    ConnectionThread,
    connect,
    in_write_transaction,
    is_busy,
)
from tollgate.store.sqlite.errors import translate

P = ParamSpec("P")
T = TypeVar("T")

# Waits for another connection's lock, in seconds: at first only a turn of the event
# loop (a holder's transaction takes some tens of µs), then growing to 5 ms.
RETRY_DELAYS = (0.0, 0.0, 0.0005, 0.001, 0.002, 0.005)
# About four WAL pages a refresh: a checkpoint some 1000 pages apart, as SQLite's default.
CHECKPOINT_EVERY = 250


def _checkpoint(connection: sqlite3.Connection) -> None:
    # PASSIVE: copies what no reader still needs; never waits for a lock.
    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


class LoopConnection:
    def __init__(self, path: str, thread: ConnectionThread) -> None:
        self._path = path
        self._thread = thread
        self._connection: sqlite3.Connection | None = None
        self._closed = False
        self._commits = 0
        self._checkpoint: asyncio.Task[None] | None = None

    async def call(
        self,
        operation: Callable[Concatenate[sqlite3.Connection, P], T],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """`operation(connection, *args)` on the loop, run again while it meets a lock."""
        deadline: float | None = None
        delay = 0
        while True:
            if self._closed:
                raise StoreUnavailable("The database is closed.")
            try:
                connection = self._connection or self._open()
                return operation(connection, *args, **kwargs)
            except Exception as exc:
                error = translate(exc)
                if not is_busy(exc):
                    if error is exc:
                        raise
                    raise error from exc
                now = time.monotonic()
                if deadline is None:
                    deadline = now + BUSY_TIMEOUT_MS / 1000
                elif now > deadline:  # as long as the thread's busy handler would wait
                    raise error from exc
            await asyncio.sleep(RETRY_DELAYS[min(delay, len(RETRY_DELAYS) - 1)])
            delay += 1

    async def write(
        self,
        operation: Callable[Concatenate[sqlite3.Connection, P], T],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """`call` inside one write transaction (`BEGIN IMMEDIATE`)."""
        result = await self.call(in_write_transaction, operation, *args, **kwargs)
        self._commits += 1
        if self._commits >= CHECKPOINT_EVERY and self._checkpoint is None:
            self._commits = 0
            self._checkpoint = asyncio.create_task(self._checkpoint_on_thread())
        return result

    async def close(self) -> None:
        """Close the connection, after a checkpoint under way; calls then fail."""
        self._closed = True
        if self._checkpoint is not None:
            with contextlib.suppress(Exception):
                await self._checkpoint
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _open(self) -> sqlite3.Connection:
        # Connected by the first call, and again after a failed attempt, as the thread's.
        connection = connect(self._path, busy_timeout_ms=0)
        try:
            connection.execute("PRAGMA wal_autocheckpoint=0")
        except BaseException:
            connection.close()
            raise
        self._connection = connection
        return connection

    async def _checkpoint_on_thread(self) -> None:
        try:
            # Nothing depends on it: a failure leaves the frames for the next one.
            with contextlib.suppress(Exception):
                await self._thread.call(_checkpoint)
        finally:
            self._checkpoint = None
