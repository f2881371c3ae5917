"""Refresh rotation, replay and theft detection on a real database."""

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from sqlalchemy import func, select

from tests.conftest import PASSWORD
from tests.support.db import rows
from tollgate.errors import InvalidGrant, InvalidScope, InvalidToken
from tollgate.services.container import Services
from tollgate.services.grants import ClientInfo, TokenPair, token_id
from tollgate.settings import Settings
from tollgate.store.schema import RefreshTokenRow, SessionRow, UserRow

CLIENT = ClientInfo(user_agent="pytest", ip="203.0.113.9")


def jti(token: str) -> str:
    return str(jwt.decode(token, options={"verify_signature": False})["jti"])


def sid(token: str) -> uuid.UUID:
    return uuid.UUID(jwt.decode(token, options={"verify_signature": False})["sid"])


async def login(services: Services, name: str = "minsu", scope: str | None = None) -> TokenPair:
    try:
        user = await services.accounts.find(name)
    except Exception:
        user = await services.accounts.join(name, PASSWORD, scope="profile admin")
    return await services.grants.start_session(user, scope, CLIENT)


async def session_row(services: Services, session_id: uuid.UUID) -> SessionRow:
    async with rows(services) as db:
        row = await db.get(SessionRow, session_id)
    assert row is not None
    return row


async def children_of(services: Services, token: str) -> int:
    async with rows(services) as db:
        count = await db.scalar(
            select(func.count()).where(RefreshTokenRow.parent_id == token_id(jti(token)))
        )
    return int(count or 0)


async def test_refresh_rotates(services: Services) -> None:
    first = await login(services)
    second = await services.grants.refresh(first.refresh_token, None)
    assert jti(second.refresh_token) != jti(first.refresh_token)
    assert sid(second.refresh_token) == sid(first.refresh_token)
    assert (await services.checker.access(second.access_token)).sid == sid(first.access_token)
    third = await services.grants.refresh(second.refresh_token, None)
    assert jti(third.refresh_token) not in {jti(first.refresh_token), jti(second.refresh_token)}


async def test_replay_within_interval_returns_the_current_pair(services: Services) -> None:
    first = await login(services)
    second = await services.grants.refresh(first.refresh_token, None)
    again = await services.grants.refresh(first.refresh_token, None)
    assert jti(again.refresh_token) == jti(second.refresh_token)
    # The session is intact and the current token still rotates.
    third = await services.grants.refresh(again.refresh_token, None)
    assert (await session_row(services, sid(third.refresh_token))).revoked_at is None


async def test_replay_outside_interval_revokes_the_session(
    make_settings: Callable[..., Settings], hasher: Any
) -> None:
    services = await Services.open(
        make_settings(refresh_reuse_interval=0), hasher, migrate_first=True
    )
    await services.start()
    try:
        first = await login(services)
        second = await services.grants.refresh(first.refresh_token, None)
        await asyncio.sleep(0.01)
        with pytest.raises(InvalidGrant, match="already used"):
            await services.grants.refresh(first.refresh_token, None)
        row = await session_row(services, sid(first.refresh_token))
        assert row.revoked_reason == "refresh_token_reused"
        # The thief's and the victim's tokens are both dead now.
        with pytest.raises(InvalidGrant, match="ended"):
            await services.grants.refresh(second.refresh_token, None)
        with pytest.raises(InvalidToken):
            await services.sessions.authorize(second.access_token)
    finally:
        await services.close()


async def test_replay_of_an_older_token_revokes_even_within_interval(services: Services) -> None:
    first = await login(services)
    second = await services.grants.refresh(first.refresh_token, None)
    await services.grants.refresh(second.refresh_token, None)
    # `first` is two generations back: not the immediately previous token.
    with pytest.raises(InvalidGrant, match="already used"):
        await services.grants.refresh(first.refresh_token, None)
    assert (await session_row(services, sid(first.refresh_token))).revoked_at is not None


async def test_concurrent_refreshes_leave_one_live_child(services: Services) -> None:
    first = await login(services)
    results = await asyncio.gather(
        *(services.grants.refresh(first.refresh_token, None) for _ in range(20)),
        return_exceptions=True,
    )
    pairs = [r for r in results if isinstance(r, TokenPair)]
    failures = [r for r in results if not isinstance(r, TokenPair)]
    assert all(isinstance(f, InvalidGrant) for f in failures), failures
    assert pairs, "at least one refresh must succeed"
    assert len({jti(p.refresh_token) for p in pairs}) == 1
    assert await children_of(services, first.refresh_token) == 1


async def test_scope_may_narrow_on_refresh_but_not_widen(services: Services) -> None:
    first = await login(services, scope="profile")
    narrowed = await services.grants.refresh(first.refresh_token, "profile")
    assert narrowed.scope == "profile"
    with pytest.raises(InvalidScope):
        await services.grants.refresh(narrowed.refresh_token, "profile admin")


async def test_scope_taken_from_user_is_dropped_on_refresh(services: Services) -> None:
    first = await login(services)
    assert first.scope == "admin profile"
    await services.accounts.set_scope("minsu", "profile")
    assert (await services.grants.refresh(first.refresh_token, None)).scope == "profile"


async def test_scope_given_to_user_comes_with_the_next_login_not_a_refresh(
    services: Services,
) -> None:
    # RFC 6749 §6: a refresh never widens the original grant; a new login asks again.
    await login(services)  # makes the user
    await services.accounts.set_scope("minsu", "profile")
    first = await login(services)
    assert first.scope == "profile"
    await services.accounts.set_scope("minsu", "profile admin")
    refreshed = await services.grants.refresh(first.refresh_token, None)
    assert refreshed.scope == "profile"
    with pytest.raises(InvalidScope):
        await services.grants.refresh(refreshed.refresh_token, "admin")
    assert (await login(services)).scope == "admin profile"


async def test_disabled_user_cannot_refresh(services: Services) -> None:
    first = await login(services)
    await services.accounts.set_disabled("minsu", True)
    with pytest.raises(InvalidGrant):
        await services.grants.refresh(first.refresh_token, None)


async def test_refresh_never_outlives_the_session(
    make_settings: Callable[..., Settings], hasher: Any
) -> None:
    services = await Services.open(
        make_settings(session_max_age=100, refresh_ttl=1000), hasher, migrate_first=True
    )
    await services.start()
    try:
        pair = await login(services)
        assert pair.refresh_expires_in <= 100
        claims = jwt.decode(pair.refresh_token, options={"verify_signature": False})
        row = await session_row(services, sid(pair.refresh_token))
        assert claims["exp"] == int(row.expires_at.timestamp())
    finally:
        await services.close()


async def test_database_holds_no_usable_token_ids(services: Services) -> None:
    pair = await login(services)
    async with rows(services) as db:
        ids = (await db.scalars(select(RefreshTokenRow.id))).all()
    assert jti(pair.refresh_token) not in ids
    assert token_id(jti(pair.refresh_token)) in ids


async def test_foreign_or_unknown_refresh_token_is_refused(services: Services) -> None:
    pair = await login(services)
    with pytest.raises(InvalidGrant):
        await services.grants.refresh(pair.access_token, None)
    with pytest.raises(InvalidGrant):
        await services.grants.refresh("not.a.token", None)


async def test_password_change_ends_other_sessions_only(services: Services) -> None:
    keep = await login(services)
    other = await login(services)
    async with rows(services) as db:
        user = (await db.scalars(select(UserRow))).one()
    await services.accounts.change_password(
        user.id, sid(keep.access_token), PASSWORD, "new-quartz-meadow-88"
    )
    assert (await session_row(services, sid(other.access_token))).revoked_reason == (
        "password_changed"
    )
    await services.sessions.authorize(keep.access_token)
    with pytest.raises(InvalidGrant):
        await services.grants.refresh(other.refresh_token, None)
    await services.accounts.authenticate("minsu", "new-quartz-meadow-88")
    with pytest.raises(InvalidGrant):
        await services.accounts.authenticate("minsu", PASSWORD)
