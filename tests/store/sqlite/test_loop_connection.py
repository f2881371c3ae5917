"""The event loop's own connection (store/sqlite/loop.py): it never waits inside SQLite
for a lock, so one process's other requests go on while one of them waits for another
process's write lock; what waited completes once the lock is free, or fails as
unavailable after as long as the busy handler would have waited."""

from __future__ import annotations

import asyncio
import os
import secrets
import sqlite3
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest

from tests.store.sqlite.test_thread import NOW, session_with_token, user_record
from tollgate.settings import Settings
from tollgate.store.records import AlreadyUsed, Rotated, RotationRequest, StoreUnavailable
from tollgate.store.sqlite import loop
from tollgate.store.sqlite.connection import database_path
from tollgate.store.stores import Stores


@pytest.fixture
def other_process(settings: Settings) -> Iterator[sqlite3.Connection]:
    """Another connection on the file, as the other worker process's would be."""
    connection = sqlite3.connect(database_path(settings.database_url), isolation_level=None)
    yield connection
    if connection.in_transaction:
        connection.execute("ROLLBACK")
    connection.close()


def children(database: str, parent: str) -> int:
    raw = sqlite3.connect(database)
    try:
        return int(
            raw.execute(
                "SELECT count(*) FROM refresh_tokens WHERE parent_id = ?", (parent,)
            ).fetchone()[0]
        )
    finally:
        raw.close()


async def test_a_rotation_waiting_for_a_lock_holds_up_no_other_request(
    stores: Stores, other_process: sqlite3.Connection
) -> None:
    user = user_record("minsu")
    await stores.users.create(user)
    session_id, token = await session_with_token(stores, user)
    other_process.execute("BEGIN IMMEDIATE")  # the other process is writing
    rotation = asyncio.create_task(
        stores.sessions.rotate(
            RotationRequest(
                token, session_id, user.id, secrets.token_hex(32), b"s", NOW, timedelta(days=1)
            )
        )
    )
    await asyncio.sleep(0.05)
    assert not rotation.done()
    # Reads need no lock in WAL mode: answered now, not after the rotation's wait (on the
    # thread, they queued behind the busy handler's sleep).
    live = await asyncio.wait_for(stores.sessions.live(session_id, NOW), timeout=0.5)
    assert live is not None
    assert live.id == session_id
    assert await asyncio.wait_for(stores.users.by_id(user.id), timeout=0.5) == user
    other_process.execute("COMMIT")
    assert isinstance(await asyncio.wait_for(rotation, timeout=5), Rotated)
    again = await stores.sessions.rotate(
        RotationRequest(
            token, session_id, user.id, secrets.token_hex(32), b"s", NOW, timedelta(days=1)
        )
    )
    assert isinstance(again, AlreadyUsed)  # used once, by the rotation that waited


async def test_a_caller_cancelled_while_waiting_for_the_lock_writes_nothing(
    stores: Stores, other_process: sqlite3.Connection, settings: Settings
) -> None:
    user = user_record("minsu")
    await stores.users.create(user)
    session_id, token = await session_with_token(stores, user)
    other_process.execute("BEGIN IMMEDIATE")
    rotation = asyncio.create_task(
        stores.sessions.rotate(
            RotationRequest(
                token, session_id, user.id, secrets.token_hex(32), b"s", NOW, timedelta(days=1)
            )
        )
    )
    await asyncio.sleep(0.05)
    rotation.cancel()
    with pytest.raises(asyncio.CancelledError):
        await rotation
    other_process.execute("COMMIT")
    assert children(database_path(settings.database_url), token) == 0
    # The token is still unused: its rotation now succeeds.
    rotated = await stores.sessions.rotate(
        RotationRequest(
            token, session_id, user.id, secrets.token_hex(32), b"s", NOW, timedelta(days=1)
        )
    )
    assert isinstance(rotated, Rotated)


async def test_a_lock_held_past_the_busy_timeout_is_unavailable(
    stores: Stores, other_process: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = user_record("minsu")
    await stores.users.create(user)
    session_id, token = await session_with_token(stores, user)
    monkeypatch.setattr(loop, "BUSY_TIMEOUT_MS", 200)
    other_process.execute("BEGIN IMMEDIATE")
    started = time.monotonic()
    with pytest.raises(StoreUnavailable):
        await stores.sessions.rotate(
            RotationRequest(
                token, session_id, user.id, secrets.token_hex(32), b"s", NOW, timedelta(days=1)
            )
        )
    assert time.monotonic() - started >= 0.2
    other_process.execute("ROLLBACK")
    assert isinstance(
        await stores.sessions.rotate(
            RotationRequest(
                token, session_id, user.id, secrets.token_hex(32), b"s", NOW, timedelta(days=1)
            )
        ),
        Rotated,
    )


async def test_the_wal_is_copied_back_by_the_thread_every_so_many_commits(
    stores: Stores, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = database_path(settings.database_url)
    user = user_record("minsu")
    await stores.users.create(user)
    await session_with_token(stores, user)
    await stores.database.ping()
    monkeypatch.setattr(loop, "CHECKPOINT_EVERY", 40)
    # Fresh pages for the database file: the loop connection never checkpoints itself,
    # so the file grows only when the thread copies the WAL back.
    before = os.path.getsize(database)  # noqa: ASYNC240 (a stat, no I/O wait)
    for _ in range(40):
        await session_with_token(stores, user)
    deadline = time.monotonic() + 10
    while os.path.getsize(database) == before:  # noqa: ASYNC240 (a stat, no I/O wait)
        assert time.monotonic() < deadline, "the WAL was never checkpointed"
        await asyncio.sleep(0.01)
