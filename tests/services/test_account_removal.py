"""Deleting accounts and setting passwords as an operator, on SQLite and PostgreSQL."""

import uuid

import pytest
from sqlalchemy import func, select

from tests.conftest import OTHER_PASSWORD, PASSWORD
from tests.support.db import rows
from tollgate.errors import InvalidGrant, InvalidInput, InvalidToken, NotFound
from tollgate.services.container import Services
from tollgate.services.grants import ClientInfo, TokenPair
from tollgate.store.records import AuditQuery
from tollgate.store.schema import AuditEventRow, RefreshTokenRow, SessionRow, UserRow

CLIENT = ClientInfo(user_agent="pytest", ip="203.0.113.9")


async def counts(services: Services, user_id: uuid.UUID) -> tuple[int, int, int]:
    """Rows left of the user: (users, sessions, refresh tokens)."""
    async with rows(services) as db:
        users = await db.scalar(select(func.count()).where(UserRow.id == user_id))
        sessions = await db.scalar(select(func.count()).where(SessionRow.user_id == user_id))
        tokens = await db.scalar(
            select(func.count())
            .select_from(RefreshTokenRow)
            .join(SessionRow, RefreshTokenRow.session_id == SessionRow.id)
            .where(SessionRow.user_id == user_id)
        )
        orphans = await db.scalar(
            select(func.count()).where(RefreshTokenRow.session_id.not_in(select(SessionRow.id)))
        )
    assert orphans == 0  # a missing cascade would leave the tokens of deleted sessions
    return int(users or 0), int(sessions or 0), int(tokens or 0)


async def events(services: Services, user_id: uuid.UUID) -> list[AuditEventRow]:
    return list(await services.audit.events(AuditQuery(user_id=user_id)))


async def sign_in_twice(services: Services) -> tuple[UserRow, list[TokenPair]]:
    user = await services.accounts.join("minsu", PASSWORD, "minsu@example.org")
    pairs = [await services.grants.start_session(user, None, CLIENT) for _ in range(2)]
    await services.grants.refresh(pairs[0].refresh_token, None, CLIENT)  # a used token too
    return user, pairs


async def test_deleting_an_account_takes_its_sessions_and_tokens(services: Services) -> None:
    user, pairs = await sign_in_twice(services)
    bystander = await services.accounts.join("jisoo", PASSWORD)
    kept = await services.grants.start_session(bystander, None, CLIENT)
    assert await counts(services, user.id) == (1, 2, 3)

    with pytest.raises(InvalidGrant):
        await services.accounts.delete_own(user.id, OTHER_PASSWORD)
    assert await counts(services, user.id) == (1, 2, 3)

    await services.accounts.delete_own(user.id, PASSWORD)
    assert (await counts(services, user.id))[:2] == (0, 0)
    for pair in pairs:
        with pytest.raises(InvalidToken):
            await services.sessions.authorize(pair.access_token)
        with pytest.raises(InvalidGrant):
            await services.grants.refresh(pair.refresh_token, None, CLIENT)
    # Nobody else lost anything.
    assert (await services.sessions.authorize(kept.access_token)).sub == bystander.id
    # The name is free again: a new, different account.
    again = await services.accounts.join("Minsu", PASSWORD)
    assert again.id != user.id


async def test_deletion_keeps_an_audit_line_without_personal_data(services: Services) -> None:
    user, _ = await sign_in_twice(services)
    before = len(await events(services, user.id))
    await services.accounts.delete_own(user.id, PASSWORD)
    trail = await events(services, user.id)
    assert len(trail) == before + 1  # earlier events stay (until `tollgate purge`)
    deleted = trail[0]
    assert deleted.event == "user_deleted"
    assert deleted.user_id == user.id
    assert (deleted.username, deleted.ip, deleted.user_agent) == (None, None, None)
    assert "minsu" not in (deleted.detail or "").casefold()


async def test_operator_deletes_by_name(services: Services) -> None:
    user, _ = await sign_in_twice(services)
    deleted = await services.accounts.delete("MINSU")
    assert deleted.id == user.id
    assert (await counts(services, user.id))[:2] == (0, 0)
    assert (await events(services, user.id))[0].detail == "deleted by an operator"
    with pytest.raises(NotFound):
        await services.accounts.delete("minsu")


async def test_operator_sets_a_password_and_every_session_ends(services: Services) -> None:
    user, pairs = await sign_in_twice(services)
    ended = await services.accounts.set_password("minsu", OTHER_PASSWORD)
    assert ended == 2
    for pair in pairs:
        with pytest.raises(InvalidToken):
            await services.sessions.authorize(pair.access_token)
    with pytest.raises(InvalidGrant):
        await services.accounts.authenticate("minsu", PASSWORD)
    assert (await services.accounts.authenticate("minsu", OTHER_PASSWORD)).id == user.id
    latest = (await events(services, user.id))[0]
    assert (latest.event, latest.detail) == ("password_set_by_admin", "every session ended")


async def test_operator_password_follows_the_policy(services: Services) -> None:
    await services.accounts.join("minsu", PASSWORD)
    with pytest.raises(InvalidInput) as weak:
        await services.accounts.set_password("minsu", "password1")
    assert "guess" in weak.value.fields["password"]
    with pytest.raises(InvalidInput) as same:
        await services.accounts.set_password("minsu", PASSWORD)
    assert same.value.fields == {"password": "The new password must differ from the current one."}
    await services.accounts.authenticate("minsu", PASSWORD)  # unchanged


async def test_a_new_password_must_differ_from_the_current_one(services: Services) -> None:
    user = await services.accounts.join("minsu", PASSWORD)
    pair = await services.grants.start_session(user, None, CLIENT)
    sid = (await services.checker.access(pair.access_token)).sid
    with pytest.raises(InvalidInput) as same:
        await services.accounts.change_password(user.id, sid, PASSWORD, PASSWORD)
    assert same.value.fields == {
        "new_password": "The new password must differ from the current one."
    }
