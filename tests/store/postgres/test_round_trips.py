"""The hot operations cost one round trip each on a warm connection, counted on the wire
(ReadyForQuery messages from the server), so a prepare, a BEGIN/COMMIT, a reset query on
release or a second statement would all show."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from typing import TypeVar

import asyncpg
import pytest

from tests.store.postgres.conftest import pg_settings
from tests.store.postgres.data import DAY, new_session, new_user, token_id, user_record, utcnow
from tests.store.postgres.wire import ReadyCounter
from tests.support.postgres import PostgresServer
from tollgate.store.postgres import open_postgres
from tollgate.store.postgres.pool import asyncpg_dsn
from tollgate.store.records import (
    AlreadyUsed,
    AuditQuery,
    AuditRecord,
    NotUsable,
    PasswordChange,
    RefreshTokenRecord,
    Rotated,
    RotationRequest,
    SessionEnd,
    SessionRecord,
)
from tollgate.store.stores import Stores

T = TypeVar("T")


@dataclass
class Counted:
    stores: Stores
    wire: ReadyCounter

    async def trips(self, call: Awaitable[T]) -> tuple[int, T]:
        before = self.wire.ready
        result = await call
        return self.wire.ready - before, result


@pytest.fixture
async def counted(postgres: PostgresServer, pg_url: str) -> AsyncIterator[Counted]:
    wire = ReadyCounter(postgres.port)
    port = await wire.start()
    url = pg_url.replace(f":{postgres.port}/", f":{port}/") + "?sslmode=disable"
    # One connection, so the warm-up call prepares on the connection the count uses.
    stores = await open_postgres(pg_settings(url, db_pool_size=1, db_max_overflow=0))
    yield Counted(stores, wire)
    await stores.close()
    await wire.close()


async def test_rotate_is_one_round_trip(counted: Counted) -> None:
    stores = counted.stores
    user = await new_user(stores)
    session, first = await new_session(stores, user)
    now = utcnow()
    warm = await stores.sessions.rotate(
        RotationRequest(first.id, session.id, user.id, "c1", b"s", now, DAY)
    )
    assert isinstance(warm, Rotated)

    trips, rotation = await counted.trips(
        stores.sessions.rotate(RotationRequest("c1", session.id, user.id, "c2", b"s", now, DAY))
    )

    assert isinstance(rotation, Rotated)
    assert rotation.child.id == "c2"
    assert trips == 1


async def test_replay_and_refusal_are_one_round_trip_too(counted: Counted) -> None:
    stores = counted.stores
    user = await new_user(stores)
    session, first = await new_session(stores, user)
    now = utcnow()
    await stores.sessions.rotate(
        RotationRequest(first.id, session.id, user.id, "c1", b"s", now, DAY)
    )

    replay_trips, replay = await counted.trips(
        stores.sessions.rotate(RotationRequest(first.id, session.id, user.id, "c9", b"s", now, DAY))
    )
    unknown_trips, unknown = await counted.trips(
        stores.sessions.rotate(RotationRequest("nope", session.id, user.id, "c8", b"s", now, DAY))
    )

    assert isinstance(replay, AlreadyUsed)
    assert replay.child is not None
    assert replay.child.id == "c1"
    assert isinstance(unknown, NotUsable)
    assert (replay_trips, unknown_trips) == (1, 1)


async def test_start_is_one_round_trip_with_its_audit_rows(counted: Counted) -> None:
    stores = counted.stores
    user = await new_user(stores)
    await new_session(stores, user)  # warm
    now = utcnow()
    session = SessionRecord(
        id=uuid.uuid4(),
        user_id=user.id,
        scope="profile",
        created_at=now,
        last_used_at=now,
        expires_at=now + DAY,
    )
    first = RefreshTokenRecord(
        id=token_id(), session_id=session.id, issued_at=now, expires_at=now + DAY
    )
    login = AuditRecord(at=now, event="login", user_id=user.id, session_id=session.id)
    seen = AuditRecord(at=now, event="new_device", user_id=user.id, session_id=session.id)

    trips, _ = await counted.trips(stores.sessions.start(session, first, [login, seen]))

    assert trips == 1
    assert await stores.sessions.live(session.id, now) == session
    assert await stores.sessions.refresh_token(first.id) == first
    events = await stores.audit.events(AuditQuery(user_id=user.id))
    assert sorted(e.event for e in events) == ["login", "new_device"]


async def test_live_is_one_round_trip(counted: Counted) -> None:
    stores = counted.stores
    user = await new_user(stores)
    session, _ = await new_session(stores, user)
    await stores.sessions.live(session.id, utcnow())

    trips, live = await counted.trips(stores.sessions.live(session.id, utcnow()))

    assert live == session
    assert trips == 1


async def test_revocations_are_one_round_trip(counted: Counted) -> None:
    stores = counted.stores
    user = await new_user(stores)
    sessions = [(await new_session(stores, user))[0] for _ in range(4)]
    now = utcnow()
    audit = [AuditRecord(at=now, event="logout", user_id=user.id)]
    await stores.sessions.revoke(sessions[0].id, SessionEnd("logout", now, audit=audit))

    revoke_trips, revoked = await counted.trips(
        stores.sessions.revoke(
            sessions[1].id, SessionEnd("logout", now, audit=audit), owner=user.id
        )
    )
    all_trips, ended = await counted.trips(
        stores.sessions.revoke_all(
            user.id, SessionEnd("logout_all", now, audit=audit), keep=sessions[3].id
        )
    )
    await stores.sessions.revoke_all(user.id, SessionEnd("logout_all", now))

    assert revoked is True
    assert ended == 1  # sessions[2]: [0] and [1] were revoked already, [3] kept
    assert (revoke_trips, all_trips) == (1, 1)


async def test_account_writes_are_one_round_trip(counted: Counted) -> None:
    stores = counted.stores
    now = utcnow()
    joined = [AuditRecord(at=now, event="joined")]
    await stores.users.create(user_record(), joined)
    user = user_record()
    await new_session(stores, await new_user(stores))
    create_trips, _ = await counted.trips(stores.users.create(user, joined))
    await new_session(stores, user)
    changed = [AuditRecord(at=now, event="password_changed", user_id=user.id)]
    await stores.users.set_password(PasswordChange(user.id, "h1", now))

    password_trips, ended = await counted.trips(
        stores.users.set_password(
            PasswordChange(user.id, "h2", now, end_sessions="password_changed", audit=changed)
        )
    )

    assert ended == 1
    assert (create_trips, password_trips) == (1, 1)


async def test_the_default_pool_reset_would_be_a_second_round_trip(
    postgres: PostgresServer, pg_url: str
) -> None:
    """What the release hook saves: asyncpg's own reset costs one more trip per call."""
    wire = ReadyCounter(postgres.port)
    port = await wire.start()
    url = pg_url.replace(f":{postgres.port}/", f":{port}/") + "?sslmode=disable"
    pool = await asyncpg.create_pool(asyncpg_dsn(url), min_size=1, max_size=1)
    try:
        await pool.fetchval("SELECT 1")
        before = wire.ready
        await pool.fetchval("SELECT 1")
        assert wire.ready - before == 2
    finally:
        await pool.close()
        await wire.close()
