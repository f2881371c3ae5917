"""SessionStore.rotate: a refresh token is used once, by exactly one caller, or not at all."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from datetime import timedelta

from tests.store.builders import (
    REFRESH_TTL,
    T0,
    a_session,
    add_user,
    at,
    first_token,
    start_session,
    token_id,
)
from tollgate.store.records import (
    AlreadyUsed,
    NotUsable,
    RefreshTokenRecord,
    Rotated,
    RotationRequest,
    SessionEnd,
    SessionRecord,
    UserRecord,
)
from tollgate.store.stores import Stores

SALT = bytes(range(32))


async def rotate(
    stores: Stores,
    token: RefreshTokenRecord | str,
    session: SessionRecord,
    user: UserRecord,
    child_id: str,
    now: timedelta | None = None,
    ttl: timedelta = REFRESH_TTL,
) -> object:
    return await stores.sessions.rotate(
        RotationRequest(
            token if isinstance(token, str) else token.id,
            session.id,
            user.id,
            child_id,
            SALT,
            T0 + (now or timedelta(minutes=1)),
            ttl,
        )
    )


async def test_rotate_uses_the_token_and_inserts_its_child(stores: Stores) -> None:
    user = await add_user(stores)
    session, token = await start_session(stores, user)
    child_id, now = token_id(), at(minutes=1)

    result = await stores.sessions.rotate(
        RotationRequest(token.id, session.id, user.id, child_id, SALT, now, REFRESH_TTL)
    )

    child = RefreshTokenRecord(
        id=child_id,
        session_id=session.id,
        issued_at=now,
        expires_at=now + REFRESH_TTL,
        parent_id=token.id,
        derivation_salt=SALT,
    )
    used_session = dataclasses.replace(session, last_used_at=now)
    assert result == Rotated(session=used_session, user=user, child=child)
    assert await stores.sessions.refresh_token(child_id) == child
    assert await stores.sessions.refresh_token(token.id) == dataclasses.replace(
        token, used_at=now, replaced_by=child_id
    )
    assert await stores.sessions.live(session.id, now) == used_session


async def test_a_child_never_outlives_its_session(stores: Stores) -> None:
    user = await add_user(stores)
    session, token = await start_session(stores, user, expires=at(days=3))

    result = await rotate(stores, token, session, user, token_id(), ttl=timedelta(days=14))

    assert isinstance(result, Rotated)
    assert result.child.expires_at == at(days=3)


async def test_a_lineage_rotates_token_after_token(stores: Stores) -> None:
    user = await add_user(stores)
    session, token = await start_session(stores, user)
    lineage = [token.id]
    for minute in range(1, 6):
        child_id = token_id()
        result = await rotate(
            stores, lineage[-1], session, user, child_id, timedelta(minutes=minute)
        )
        assert isinstance(result, Rotated)
        assert result.child.parent_id == lineage[-1]
        lineage.append(child_id)

    for parent, child in itertools.pairwise(lineage):
        stored = await stores.sessions.refresh_token(parent)
        assert stored is not None
        assert stored.replaced_by == child
    newest = await stores.sessions.refresh_token(lineage[-1])
    assert newest is not None
    assert (newest.used_at, newest.replaced_by) == (None, None)


async def test_a_used_token_is_already_used_with_its_child_and_writes_nothing(
    stores: Stores,
) -> None:
    user = await add_user(stores)
    session, token = await start_session(stores, user)
    child_id = token_id()
    first = await rotate(stores, token, session, user, child_id, timedelta(minutes=1))
    assert isinstance(first, Rotated)

    replay_child = token_id()
    replay = await rotate(stores, token, session, user, replay_child, timedelta(minutes=2))

    assert replay == AlreadyUsed(
        token=dataclasses.replace(token, used_at=at(minutes=1), replaced_by=child_id),
        child=first.child,
        session=first.session,
        user=user,
    )
    assert await stores.sessions.refresh_token(replay_child) is None
    live = await stores.sessions.live(session.id, at(minutes=2))
    assert live is not None
    assert live.last_used_at == at(minutes=1)  # the replay did not touch the session


async def test_already_used_hands_back_the_child_even_once_it_is_used(stores: Stores) -> None:
    user = await add_user(stores)
    session, token = await start_session(stores, user)
    child_id, grandchild_id = token_id(), token_id()
    await rotate(stores, token, session, user, child_id, timedelta(minutes=1))
    await rotate(stores, child_id, session, user, grandchild_id, timedelta(minutes=2))

    replay = await rotate(stores, token, session, user, token_id(), timedelta(minutes=3))

    assert isinstance(replay, AlreadyUsed)
    assert replay.child is not None
    assert (replay.child.id, replay.child.replaced_by) == (child_id, grandchild_id)
    assert replay.child.used_at == at(minutes=2)
    assert replay.session.last_used_at == at(minutes=2)


async def session_as_stored(stores: Stores, session: SessionRecord) -> SessionRecord:
    """The session's row, live or ended (read at its start, when it was live)."""
    ended = await stores.sessions.ended_for_user(session.user_id, since=T0)
    found = [s for s in ended if s.id == session.id] or [
        await stores.sessions.live(session.id, session.created_at)
    ]
    assert found[0] is not None
    return found[0]


async def assert_nothing_written(
    stores: Stores, token: RefreshTokenRecord, child_id: str, session: SessionRecord
) -> None:
    assert await stores.sessions.refresh_token(token.id) == token
    assert await stores.sessions.refresh_token(child_id) is None
    assert await session_as_stored(stores, session) == session


async def test_an_unknown_token_is_not_usable(stores: Stores) -> None:
    user = await add_user(stores)
    session, token = await start_session(stores, user)
    child_id = token_id()

    result = await rotate(stores, token_id(), session, user, child_id)

    assert isinstance(result, NotUsable)
    await assert_nothing_written(stores, token, child_id, session)


async def test_a_token_of_another_session_is_not_usable(stores: Stores) -> None:
    user = await add_user(stores)
    session, token = await start_session(stores, user)
    other_session, other_token = await start_session(stores, user, created=at(1))
    child_id = token_id()

    result = await rotate(stores, token, other_session, user, child_id)

    assert isinstance(result, NotUsable)
    await assert_nothing_written(stores, token, child_id, session)
    await assert_nothing_written(stores, other_token, child_id, other_session)


async def test_a_session_of_another_user_is_not_usable(stores: Stores) -> None:
    user = await add_user(stores)
    other = await add_user(stores, "other")
    session, token = await start_session(stores, user)
    child_id = token_id()

    result = await rotate(stores, token, session, other, child_id)

    assert isinstance(result, NotUsable)
    await assert_nothing_written(stores, token, child_id, session)


async def test_a_token_of_a_revoked_session_is_not_usable(stores: Stores) -> None:
    user = await add_user(stores)
    session, token = await start_session(stores, user)
    assert await stores.sessions.revoke(session.id, SessionEnd("logout", at(30)))
    revoked = dataclasses.replace(session, revoked_at=at(30), revoked_reason="logout")
    child_id = token_id()

    result = await rotate(stores, token, session, user, child_id)

    assert isinstance(result, NotUsable)
    await assert_nothing_written(stores, token, child_id, revoked)


async def test_a_token_of_an_expired_session_is_not_usable(stores: Stores) -> None:
    user = await add_user(stores)
    session, token = await start_session(stores, user, expires=at(minutes=1))
    child_id = token_id()

    result = await rotate(stores, token, session, user, child_id, timedelta(minutes=1))

    assert isinstance(result, NotUsable)
    await assert_nothing_written(stores, token, child_id, session)


async def test_a_token_of_a_disabled_user_is_not_usable(stores: Stores) -> None:
    user = await add_user(stores)
    await stores.users.set_disabled(user.id, True, at(1))
    # Disabling ended the user's sessions; one started after (the store keeps no rules)
    # is live, and still its tokens must not rotate while the user is disabled.
    session, token = await start_session(stores, user, created=at(2))
    child_id = token_id()

    result = await rotate(stores, token, session, user, child_id)

    assert isinstance(result, NotUsable)
    await assert_nothing_written(stores, token, child_id, session)


async def test_a_used_token_of_an_ended_session_is_not_usable(stores: Stores) -> None:
    """AlreadyUsed carries a live session; once the session ended, a replay is NotUsable."""
    user = await add_user(stores)
    session, token = await start_session(stores, user)
    child_id = token_id()
    assert isinstance(await rotate(stores, token, session, user, child_id), Rotated)
    assert await stores.sessions.revoke(session.id, SessionEnd("reuse_detected", at(minutes=2)))

    result = await rotate(stores, token, session, user, token_id(), timedelta(minutes=3))

    assert isinstance(result, NotUsable)


async def test_fifty_concurrent_rotations_of_one_token_make_one_child(stores: Stores) -> None:
    user = await add_user(stores)
    session, token = await start_session(stores, user)
    child_ids = [token_id() for _ in range(50)]
    now = at(minutes=1)

    results = await asyncio.gather(
        *(
            stores.sessions.rotate(
                RotationRequest(token.id, session.id, user.id, c, SALT, now, REFRESH_TTL)
            )
            for c in child_ids
        )
    )

    rotated = [r for r in results if isinstance(r, Rotated)]
    already_used = [r for r in results if isinstance(r, AlreadyUsed)]
    assert (len(rotated), len(already_used)) == (1, 49), results
    winner = rotated[0].child
    assert winner.id == child_ids[results.index(rotated[0])]
    for loser in already_used:
        assert loser.token.replaced_by == winner.id
        assert loser.token.used_at == now
        assert loser.child == winner
        assert loser.session.id == session.id
        assert loser.user == user
    stored = [await stores.sessions.refresh_token(c) for c in child_ids]
    assert [s for s in stored if s is not None] == [winner]
    used = await stores.sessions.refresh_token(token.id)
    assert used is not None
    assert used.replaced_by == winner.id


async def test_concurrent_rotations_along_a_lineage_never_fork_it(stores: Stores) -> None:
    """Callers racing along the same lineage (each rotating the newest token it knows)."""
    user = await add_user(stores)
    session, token = await start_session(stores, user)
    newest = [token.id]

    async def refresher(number: int) -> None:
        for step in range(5):
            result = await rotate(
                stores, newest[-1], session, user, token_id(), timedelta(minutes=step + 1)
            )
            if isinstance(result, Rotated):
                newest.append(result.child.id)
            else:
                assert isinstance(result, AlreadyUsed), (number, result)

    await asyncio.gather(*(refresher(n) for n in range(10)))

    # Every token but the newest is used and replaced by the next; the newest is unused.
    for parent, child in itertools.pairwise(newest):
        stored = await stores.sessions.refresh_token(parent)
        assert stored is not None
        assert stored.replaced_by == child
    last = await stores.sessions.refresh_token(newest[-1])
    assert last is not None
    assert last.used_at is None


async def test_a_used_token_is_not_usable_where_an_unused_one_would_not_be(
    stores: Stores,
) -> None:
    """A replay learns nothing (no child) through another session, user, or a disabled user."""
    user = await add_user(stores)
    other = await add_user(stores, "other")
    session, token = await start_session(stores, user)
    other_session, _ = await start_session(stores, user, created=at(1))
    assert isinstance(await rotate(stores, token, session, user, token_id()), Rotated)

    assert isinstance(await rotate(stores, token, other_session, user, token_id()), NotUsable)
    assert isinstance(await rotate(stores, token, session, other, token_id()), NotUsable)

    # A session stored after disabling is live, its (used) token too; its user is not.
    await stores.users.set_disabled(user.id, True, at(minutes=2))
    late = a_session(user, created=at(minutes=3))
    used = dataclasses.replace(first_token(late), used_at=at(minutes=4), replaced_by=token_id())
    await stores.sessions.start(late, used)
    assert isinstance(
        await rotate(stores, used, late, user, token_id(), timedelta(minutes=5)), NotUsable
    )
