"""One thread per process owning one sqlite3 connection; every store operation is one hop.

SQLite has one writer. Connections of one process competing for its lock wait in
SQLite's busy handler, which sleeps in growing steps (measured in this project: p99 of
1 s for refreshes). So one connection, on one thread, takes the operations in turn; an
operation (all its statements and its transaction) runs as one Python function there,
and the event loop awaits one future. The busy handler is then only met by another
process on the same file (`tollgate serve --workers 2`): writes start with
`BEGIN IMMEDIATE`, taking the write lock first, so two processes serialize at the start
of a transaction and never deadlock upgrading a read lock.

How the hop is made, measured (`python -m bench.store_sqlite --hop`: µs per `SELECT 1`
hop, four runs on this project's 2 cores shared with other work): this thread with a
`queue.SimpleQueue` and `loop.call_soon_threadsafe`, 15-27 µs with one caller at a time
and 4-10 µs each with 16 callers at once; a one-thread `ThreadPoolExecutor` with
`run_in_executor`, 26-62 µs and 19-35 µs (it wraps every call in a concurrent Future
chained to an asyncio one). Waking the loop once for several finished calls did not
measurably help, so each result wakes it once.

The hop has a cost the event loop's clock does not show: under load the two threads take
turns at the GIL, and `SimpleQueue.put` alone took 130 µs of CPU per refresh in a
profile (cProfile of `Grants.refresh`, machine loaded), four times the SQL it hands over.
So the short, bounded operations of the hot paths (a refresh, a login's session, a
gateway's session read: point statements by primary key, some 20-60 µs) run instead on a
second connection right on the event loop (`LoopConnection`): no hop, and no busy handler
either. That connection's busy_timeout is 0; a statement finding another process's write
lock fails at once with SQLITE_BUSY, nothing of it was written (the transaction is rolled
back), and it is tried again after an asyncio sleep, during which this process's other
requests go on (SQLite's own busy handler would sleep 1, 2, 5, 10 ... ms holding the
thread and everything queued behind it: the 36 ms p99 of refreshes under load). Scans
(lists, purges) stay on the thread: they must not hold up the loop. See `loop.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar
from urllib.parse import unquote

from tollgate.store.records import StoreUnavailable
from tollgate.store.sqlite.errors import translate

P = ParamSpec("P")
T = TypeVar("T")

# Writers wait this long for another process's write lock instead of failing "locked".
BUSY_TIMEOUT_MS = 30_000


def database_path(url: str) -> str:
    """The file an SQLAlchemy SQLite URL names, as SQLAlchemy reads it: `sqlite:///rel.db`
    is relative to the working directory, `sqlite:////abs.db` absolute, no path in memory."""
    scheme, separator, rest = url.partition("://")
    if not separator or not scheme.split("+")[0] == "sqlite":
        raise ValueError(f"not an SQLite URL: {url!r}")
    rest, _, query = rest.partition("?")
    if query:
        # SQLAlchemy handed these to the driver; this store sets its own options.
        raise ValueError(f"SQLite URL options are not supported: {query!r}")
    _host, _, path = rest.partition("/")
    return unquote(path) or ":memory:"


def connect(path: str, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> sqlite3.Connection:
    # isolation_level=None: sqlite3 issues no BEGIN of its own; transactions are the
    # explicit ones below, so a read is never held open in an implicit transaction.
    connection = sqlite3.connect(
        path, isolation_level=None, timeout=busy_timeout_ms / 1000, cached_statements=256
    )
    try:
        # WAL lets readers proceed while one writer commits; NORMAL is durable in WAL mode
        # except for the last transactions on power loss (not on a process crash).
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("PRAGMA foreign_keys=ON")
        connection.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
    except BaseException:
        connection.close()
        raise
    return connection


def is_busy(exc: BaseException) -> bool:
    """SQLITE_BUSY (or an extended code of it): another connection holds the lock."""
    code = getattr(exc, "sqlite_errorcode", None)
    return (
        isinstance(exc, sqlite3.OperationalError)
        and code is not None
        and code & 0xFF == sqlite3.SQLITE_BUSY
    )


def in_write_transaction(
    connection: sqlite3.Connection,
    operation: Callable[Concatenate[sqlite3.Connection, P], T],
    /,
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """Run `operation` in `BEGIN IMMEDIATE` ... `COMMIT`, rolled back if it raises. An
    operation that decides to write nothing may roll back itself (see `rollback`)."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        result = operation(connection, *args, **kwargs)
        if connection.in_transaction:
            connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    return result


def rollback(connection: sqlite3.Connection) -> None:
    connection.execute("ROLLBACK")


Job = tuple[
    Callable[..., Any],
    tuple[Any, ...],
    dict[str, Any],
    asyncio.Future[Any],
    asyncio.AbstractEventLoop,
]


class ConnectionThread:
    """The thread and its connection. `call` runs a function on it, one at a time, in the
    order called."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._jobs: queue.SimpleQueue[Job] = queue.SimpleQueue()
        self._closed = False
        # Daemon: an interpreter exiting without close() must not hang on this thread.
        self._thread = threading.Thread(target=self._serve, name="tollgate-sqlite", daemon=True)
        self._thread.start()

    async def call(
        self,
        operation: Callable[Concatenate[sqlite3.Connection, P], T],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run `operation(connection, *args)` on the thread. If the caller is cancelled the
        operation still runs to its end (commit or rollback); only its result is dropped."""
        if self._closed:
            raise StoreUnavailable("The database is closed.")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((operation, args, kwargs, future, loop))
        return await future

    async def write(
        self,
        operation: Callable[Concatenate[sqlite3.Connection, P], T],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """`call` inside one write transaction."""
        return await self.call(in_write_transaction, operation, *args, **kwargs)

    async def close(self) -> None:
        """Close the connection and end the thread, after every call queued before."""
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._jobs.put((_stop, (), {}, done, loop))
        await done
        self._thread.join()  # it has just resolved `done` and returns

    def _serve(self) -> None:
        connection: sqlite3.Connection | None = None
        while True:
            operation, args, kwargs, future, loop = self._jobs.get()
            if operation is _stop:
                if connection is not None:
                    connection.close()
                _resolve_soon(loop, future, None, None)
                return
            try:
                # Connected by the first call, and again after a failed attempt (a
                # directory not there yet), as a connection pool would.
                if connection is None:
                    connection = connect(self._path)
                result = operation(connection, *args, **kwargs)
            except BaseException as exc:  # handed to the caller, whatever it is
                _resolve_soon(loop, future, None, translate(exc))
            else:
                _resolve_soon(loop, future, result, None)


def _stop(connection: sqlite3.Connection) -> None:
    """Marks the last job; never called."""


def _resolve_soon(
    loop: asyncio.AbstractEventLoop,
    future: asyncio.Future[Any],
    result: object,
    error: BaseException | None,
) -> None:
    # RuntimeError: the loop is closed, nobody is waiting any more.
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(_resolve, future, result, error)


def _resolve(future: asyncio.Future[Any], result: object, error: BaseException | None) -> None:
    if future.done():  # the caller was cancelled
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)
