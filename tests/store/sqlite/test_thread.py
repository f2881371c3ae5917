"""One connection on one thread per opened store, and one on the event loop (for the hot
paths' short operations); their life from open to close."""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.store.sqlite.conftest import migrated
from tollgate.settings import Settings
from tollgate.store.records import (
    RefreshTokenRecord,
    Rotated,
    RotationRequest,
    SessionRecord,
    StoreUnavailable,
    UserRecord,
)
from tollgate.store.sqlite import open_sqlite
from tollgate.store.sqlite.connection import database_path
from tollgate.store.stores import Stores

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def store_threads() -> int:
    return sum(t.name == "tollgate-sqlite" for t in threading.enumerate())


def user_record(name: str) -> UserRecord:
    return UserRecord(
        id=uuid.uuid4(),
        username=name,
        username_key=name,
        username_skeleton=name,
        email=None,
        password_hash="h",
        scope="profile",
        disabled=False,
        created_at=NOW,
        password_changed_at=NOW,
    )


async def session_with_token(stores: Stores, user: UserRecord) -> tuple[uuid.UUID, str]:
    session = SessionRecord(
        id=uuid.uuid4(),
        user_id=user.id,
        scope="profile",
        created_at=NOW,
        last_used_at=NOW,
        expires_at=NOW + timedelta(days=1),
    )
    token = RefreshTokenRecord(
        id=secrets.token_hex(32),
        session_id=session.id,
        issued_at=NOW,
        expires_at=session.expires_at,
    )
    await stores.sessions.start(session, token)
    return session.id, token.id


async def test_operations_run_on_two_connections_the_threads_and_the_loops(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    await migrated(settings)
    opened_on: list[int] = []
    real_connect = sqlite3.connect

    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        opened_on.append(threading.get_ident())
        return real_connect(*args, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", connect)
    stores = await open_sqlite(settings)
    assert store_threads() == 1
    users = [user_record(f"user{i}") for i in range(20)]
    await asyncio.gather(*(stores.users.create(u) for u in users))
    started = await asyncio.gather(*(session_with_token(stores, u) for u in users))
    rotations = await asyncio.gather(
        *(
            stores.sessions.rotate(
                RotationRequest(token, sid, u.id, secrets.token_hex(32), b"s", NOW, timedelta(1))
            )
            for u, (sid, token) in zip(users, started, strict=True)
            for _ in range(3)  # the same token three times at once: one rotation each
        ),
        *(stores.sessions.live(sid, NOW) for sid, _ in started),
    )
    assert sum(isinstance(r, Rotated) for r in rotations) == len(users)
    await stores.close()

    # sqlite3 refuses a connection's use from any thread but its own (check_same_thread),
    # so two connect() calls mean every statement ran on one of those two threads: the
    # store's own (creating users) and the event loop's (rotating, reading sessions).
    assert len(opened_on) == 2
    assert threading.get_ident() in opened_on
    assert len(set(opened_on)) == 2
    assert store_threads() == 0


async def test_close_is_idempotent_and_later_calls_fail_as_unavailable(stores: Stores) -> None:
    await stores.close()
    await stores.close()
    with pytest.raises(StoreUnavailable):
        await stores.users.list()
    with pytest.raises(StoreUnavailable):
        await stores.database.ping()


async def test_a_cancelled_caller_does_not_undo_or_wedge_its_operation(stores: Stores) -> None:
    user = user_record("minsu")
    task = asyncio.create_task(stores.users.create(user))
    await asyncio.sleep(0)  # queued on the connection's thread
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The thread's operations run in the order called: the list runs after the create,
    # which completed.
    assert await stores.users.list() == [user]
    assert await stores.users.by_id(user.id) == user


async def test_a_file_that_cannot_be_opened_is_unavailable(tmp_path: Path) -> None:
    missing = tmp_path / "no such folder" / "tollgate.db"
    with pytest.raises(StoreUnavailable):
        await open_sqlite(Settings(database_url=f"sqlite+aiosqlite:///{missing}"))
    assert store_threads() == 0  # no thread left behind


async def test_a_relative_path_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    stores = await open_sqlite(Settings(database_url="sqlite+aiosqlite:///./here.db"))
    await stores.close()
    assert (tmp_path / "here.db").exists()


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite+aiosqlite:///./tollgate.db", "./tollgate.db"),
        ("sqlite:///tollgate.db", "tollgate.db"),
        ("sqlite+aiosqlite:////var/lib/tollgate/db.sqlite", "/var/lib/tollgate/db.sqlite"),
        ("sqlite:///with%20space.db", "with space.db"),
        ("sqlite://", ":memory:"),
    ],
)
def test_database_path_reads_urls_as_sqlalchemy_does(url: str, path: str) -> None:
    assert database_path(url) == path


@pytest.mark.parametrize(
    "url", ["postgresql+asyncpg://u@h/db", "sqlite:///x.db?timeout=5", "tollgate.db"]
)
def test_database_path_refuses_what_it_would_misread(url: str) -> None:
    with pytest.raises(ValueError, match=r"SQLite URL"):
        database_path(url)
