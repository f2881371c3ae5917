"""The refresh on PostgreSQL: single use under concurrency, and nothing written when the
token cannot be used."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest
from asyncpg import Record

from tests.store.postgres.conftest import pg_settings
from tests.store.postgres.data import DAY, new_session, new_user, utcnow
from tollgate.store.postgres import open_postgres
from tollgate.store.postgres.pool import asyncpg_dsn
from tollgate.store.records import AlreadyUsed, NotUsable, Rotated, RotationRequest, SessionEnd
from tollgate.store.stores import Stores


@pytest.fixture
async def raw(pg_url: str) -> AsyncIterator[asyncpg.Connection[Record]]:
    """A connection of its own, to look at rows and to hold locks."""
    connection = await asyncpg.connect(asyncpg_dsn(pg_url))
    yield connection
    await connection.close()


async def test_rotation_uses_the_token_and_issues_its_child(stores: Stores) -> None:
    user = await new_user(stores)
    session, first = await new_session(stores, user)
    now = utcnow() + timedelta(seconds=5)

    rotation = await stores.sessions.rotate(
        RotationRequest(first.id, session.id, user.id, "child", b"salt", now, timedelta(hours=1))
    )

    assert isinstance(rotation, Rotated)
    assert rotation.user == user
    assert rotation.session == dataclasses.replace(session, last_used_at=now)
    assert await stores.sessions.live(session.id, now) == rotation.session
    assert rotation.child.id == "child"
    assert rotation.child.parent_id == first.id
    assert rotation.child.derivation_salt == b"salt"
    assert (rotation.child.issued_at, rotation.child.expires_at) == (now, now + timedelta(hours=1))
    assert await stores.sessions.refresh_token("child") == rotation.child
    used = await stores.sessions.refresh_token(first.id)
    assert used == dataclasses.replace(first, used_at=now, replaced_by="child")


async def test_a_child_never_outlives_its_session(stores: Stores) -> None:
    user = await new_user(stores)
    session, first = await new_session(stores, user, max_age=timedelta(minutes=10))

    rotation = await stores.sessions.rotate(
        RotationRequest(first.id, session.id, user.id, "child", b"s", utcnow(), timedelta(days=14))
    )

    assert isinstance(rotation, Rotated)
    assert rotation.child.expires_at == session.expires_at


async def test_a_used_token_gives_its_child_and_writes_nothing(
    stores: Stores, raw: asyncpg.Connection[Record]
) -> None:
    user = await new_user(stores)
    session, first = await new_session(stores, user)
    now = utcnow()
    rotated = await stores.sessions.rotate(
        RotationRequest(first.id, session.id, user.id, "c1", b"s", now, DAY)
    )
    assert isinstance(rotated, Rotated)
    later = now + timedelta(seconds=30)

    again = await stores.sessions.rotate(
        RotationRequest(first.id, session.id, user.id, "c2", b"s", later, DAY)
    )

    assert again == AlreadyUsed(
        token=dataclasses.replace(first, used_at=now, replaced_by="c1"),
        child=rotated.child,
        session=rotated.session,
        user=user,
    )
    assert await raw.fetchval("SELECT count(*) FROM refresh_tokens") == 2
    assert await stores.sessions.live(session.id, later) == rotated.session


@pytest.mark.parametrize("why", ["revoked", "expired", "disabled", "other user", "other session"])
async def test_an_unusable_token_writes_nothing(
    stores: Stores, raw: asyncpg.Connection[Record], why: str
) -> None:
    user = await new_user(stores)
    session, first = await new_session(stores, user)
    other_user = await new_user(stores)
    other_session, _ = await new_session(stores, user)
    now = utcnow()
    user_id, session_id = user.id, session.id
    if why == "revoked":
        await stores.sessions.revoke(session.id, SessionEnd("logout", now))
    elif why == "expired":
        now = session.expires_at
    elif why == "disabled":
        await stores.users.set_disabled(user.id, True, now)
        await raw.execute("UPDATE sessions SET revoked_at = NULL, revoked_reason = NULL")
    elif why == "other user":
        user_id = other_user.id
    else:
        session_id = other_session.id
    sessions_before = await raw.fetch("SELECT * FROM sessions ORDER BY id")

    rotation = await stores.sessions.rotate(
        RotationRequest(first.id, session_id, user_id, "c1", b"s", now, DAY)
    )

    assert isinstance(rotation, NotUsable)
    assert await stores.sessions.refresh_token(first.id) == first
    assert await stores.sessions.refresh_token("c1") is None
    assert await raw.fetch("SELECT * FROM sessions ORDER BY id") == sessions_before


async def test_an_unknown_token_is_not_usable(stores: Stores) -> None:
    user = await new_user(stores)
    session, _ = await new_session(stores, user)

    rotation = await stores.sessions.rotate(
        RotationRequest("0" * 64, session.id, user.id, "c", b"s", utcnow(), DAY)
    )

    assert rotation == NotUsable("The refresh token is not known.")


async def test_a_used_token_of_an_ended_session_is_not_usable(stores: Stores) -> None:
    user = await new_user(stores)
    session, first = await new_session(stores, user)
    now = utcnow()
    await stores.sessions.rotate(
        RotationRequest(first.id, session.id, user.id, "c1", b"s", now, DAY)
    )
    await stores.sessions.revoke(session.id, SessionEnd("logout", now))

    rotation = await stores.sessions.rotate(
        RotationRequest(first.id, session.id, user.id, "c2", b"s", now, DAY)
    )

    assert rotation == NotUsable("The session has ended.")


async def test_exactly_one_of_many_concurrent_callers_rotates(pg_url: str) -> None:
    callers = 12
    stores = await open_postgres(pg_settings(pg_url, db_pool_size=callers, db_max_overflow=0))
    try:
        user = await new_user(stores)
        session, first = await new_session(stores, user)
        now = utcnow()

        results = await asyncio.gather(
            *(
                stores.sessions.rotate(
                    RotationRequest(first.id, session.id, user.id, f"c{i}", b"s", now, DAY)
                )
                for i in range(callers)
            )
        )
    finally:
        await stores.close()

    winners = [r for r in results if isinstance(r, Rotated)]
    assert len(winners) == 1
    losers = [r for r in results if isinstance(r, AlreadyUsed)]
    assert len(losers) == callers - 1
    assert {r.child.id if r.child else None for r in losers} == {winners[0].child.id}


async def _wait_for_lock_waiter(raw: asyncpg.Connection[Record]) -> None:
    for _ in range(500):
        waiting = await raw.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        )
        if waiting:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the rotation never waited for the row lock")


@pytest.mark.parametrize("outcome", ["COMMIT", "ROLLBACK"])
async def test_a_claim_committed_after_the_statement_began_is_seen(
    stores: Stores, pg_url: str, raw: asyncpg.Connection[Record], outcome: str
) -> None:
    """The statement's snapshot predates the other claim: what it reads back would show
    the token unused. It must still answer from the committed state."""
    user = await new_user(stores)
    session, first = await new_session(stores, user)
    now = utcnow()
    holder = await asyncpg.connect(asyncpg_dsn(pg_url))
    try:
        await holder.execute("BEGIN")
        await holder.execute(
            "UPDATE refresh_tokens SET used_at = $2, replaced_by = 'theirs' WHERE id = $1",
            first.id,
            now,
        )
        await holder.execute(
            "INSERT INTO refresh_tokens (id, session_id, parent_id, issued_at, expires_at) "
            "VALUES ('theirs', $1, $2, $3, $3::timestamptz + interval '1 day')",
            session.id,
            first.id,
            now,
        )
        rotation = asyncio.create_task(
            stores.sessions.rotate(
                RotationRequest(first.id, session.id, user.id, "ours", b"s", now, DAY)
            )
        )
        await _wait_for_lock_waiter(raw)
        await holder.execute(outcome)
        result = await rotation
    finally:
        await holder.close()

    if outcome == "COMMIT":
        assert isinstance(result, AlreadyUsed)
        assert result.child is not None
        assert result.child.id == "theirs"
    else:
        assert isinstance(result, Rotated)
        assert result.child.id == "ours"
