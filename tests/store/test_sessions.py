"""SessionStore outside rotation: starting, listing, revoking, and purging sessions."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta

from tests.store.builders import (
    T0,
    a_session,
    add_user,
    at,
    event,
    first_token,
    start_session,
    without_id,
)
from tollgate.store.records import AuditQuery, Rotated, RotationRequest, SessionEnd
from tollgate.store.stores import Stores


async def test_a_started_session_and_its_first_token_read_back_whole(stores: Stores) -> None:
    user = await add_user(stores)
    session = a_session(user, ip="2001:db8::1", user_agent="Firefox/128.0")
    token = first_token(session)
    login = event("login", T0, user=user, session=session)

    await stores.sessions.start(session, token, [login])

    assert await stores.sessions.live(session.id, T0) == session
    assert await stores.sessions.refresh_token(token.id) == token
    assert [without_id(e) for e in await stores.audit.events(AuditQuery(user_id=user.id))] == [
        login
    ]
    assert await stores.sessions.refresh_token("0" * 64) is None


async def test_a_session_without_client_details_reads_back_whole(stores: Stores) -> None:
    user = await add_user(stores)
    session = a_session(user, ip=None, user_agent=None)
    token = dataclasses.replace(first_token(session), derivation_salt=b"\x00\xff" * 16)
    await stores.sessions.start(session, token)

    assert await stores.sessions.live(session.id, T0) == session
    assert await stores.sessions.refresh_token(token.id) == token


async def test_live_is_neither_revoked_nor_expired_at_now(stores: Stores) -> None:
    user = await add_user(stores)
    session, _ = await start_session(stores, user, expires=at(minutes=5))

    assert await stores.sessions.live(session.id, at(minutes=5, seconds=-0.001)) == session
    # Expired at its expiry instant, as a JWT is at its `exp` (RFC 7519 §4.1.4).
    assert await stores.sessions.live(session.id, at(minutes=5)) is None
    assert await stores.sessions.live(uuid.uuid4(), T0) is None

    assert await stores.sessions.revoke(session.id, SessionEnd("logout", at(1)))
    assert await stores.sessions.live(session.id, at(1)) is None


async def test_live_for_user_lists_live_sessions_most_recently_used_first(stores: Stores) -> None:
    user = await add_user(stores)
    other = await add_user(stores, "other")
    used_long_ago, _ = await start_session(stores, user, created=at(1), last_used=at(10))
    used_recently, _ = await start_session(stores, user, created=at(2), last_used=at(30))
    used_between, _ = await start_session(stores, user, created=at(3), last_used=at(20))
    revoked, _ = await start_session(stores, user, created=at(4), last_used=at(40))
    await stores.sessions.revoke(revoked.id, SessionEnd("logout", at(41)))
    await start_session(stores, user, created=at(5), last_used=at(50), expires=at(60))
    await start_session(stores, other, created=at(6), last_used=at(70))

    assert await stores.sessions.live_for_user(user.id, at(60)) == [
        used_recently,
        used_between,
        used_long_ago,
    ]
    assert await stores.sessions.live_for_user(uuid.uuid4(), at(60)) == []


async def test_ended_for_user_lists_revocations_since_then_newest_first(stores: Stores) -> None:
    user = await add_user(stores)
    other = await add_user(stores, "other")
    sessions = [(await start_session(stores, user, created=at(i)))[0] for i in range(5)]
    # Revoked in an order unlike creation; the last one before `since`.
    for session, when, reason in [
        (sessions[0], at(minutes=3), "logout"),
        (sessions[1], at(minutes=1), "revoked"),
        (sessions[2], at(minutes=2), "reuse_detected"),
        (sessions[3], at(seconds=30), "logout"),
    ]:
        assert await stores.sessions.revoke(session.id, SessionEnd(reason, when))
    expired_unrevoked, _ = await start_session(stores, user, created=at(6), expires=at(7))
    others, _ = await start_session(stores, other)
    await stores.sessions.revoke(others.id, SessionEnd("logout", at(minutes=4)))

    history = await stores.sessions.ended_for_user(user.id, since=at(minutes=1))

    assert history == [
        dataclasses.replace(sessions[0], revoked_at=at(minutes=3), revoked_reason="logout"),
        dataclasses.replace(sessions[2], revoked_at=at(minutes=2), revoked_reason="reuse_detected"),
        # Revoked exactly at `since`: included.
        dataclasses.replace(sessions[1], revoked_at=at(minutes=1), revoked_reason="revoked"),
    ]
    assert expired_unrevoked.id not in {s.id for s in history}
    limited = await stores.sessions.ended_for_user(user.id, since=T0, limit=2)
    assert [s.id for s in limited] == [sessions[0].id, sessions[2].id]


async def test_all_live_lists_every_users_live_sessions_oldest_first(stores: Stores) -> None:
    first = await add_user(stores, "first")
    second = await add_user(stores, "second")
    newer, _ = await start_session(stores, first, created=at(3))
    oldest, _ = await start_session(stores, second, created=at(1))
    middle, _ = await start_session(stores, first, created=at(2), last_used=at(50))
    revoked, _ = await start_session(stores, second, created=at(4))
    await stores.sessions.revoke(revoked.id, SessionEnd("logout", at(5)))
    await start_session(stores, first, created=at(6), expires=at(7))

    assert await stores.sessions.all_live(at(60)) == [oldest, middle, newer]


async def test_revoke_ends_a_live_session_once_with_its_audit_row(stores: Stores) -> None:
    user = await add_user(stores)
    session, _ = await start_session(stores, user)
    logout = event("logout", at(5), user=user, session=session)

    assert await stores.sessions.revoke(session.id, SessionEnd("logout", at(5), audit=[logout]))

    assert await stores.sessions.live(session.id, at(5)) is None
    assert await stores.sessions.ended_for_user(user.id, since=T0) == [
        dataclasses.replace(session, revoked_at=at(5), revoked_reason="logout")
    ]
    # Again: nothing to revoke, the first revocation stays, and no second audit row.
    assert not await stores.sessions.revoke(
        session.id, SessionEnd("revoked", at(6), audit=[event("logout", at(6), user=user)])
    )
    assert [
        (s.revoked_at, s.revoked_reason)
        for s in await stores.sessions.ended_for_user(user.id, since=T0)
    ] == [(at(5), "logout")]
    assert [without_id(e) for e in await stores.audit.events()] == [logout]


async def test_revoke_of_an_expired_or_unknown_session_is_false(stores: Stores) -> None:
    user = await add_user(stores)
    session, _ = await start_session(stores, user, expires=at(10))

    assert not await stores.sessions.revoke(session.id, SessionEnd("logout", at(10)))
    assert not await stores.sessions.revoke(uuid.uuid4(), SessionEnd("logout", at(10)))
    assert await stores.sessions.ended_for_user(user.id, since=T0) == []


async def test_revoke_with_an_owner_ends_only_that_owners_session(stores: Stores) -> None:
    owner = await add_user(stores, "owner")
    intruder = await add_user(stores, "intruder")
    session, _ = await start_session(stores, owner)

    assert not await stores.sessions.revoke(
        session.id,
        SessionEnd("logout", at(1), audit=[event("logout", at(1), intruder)]),
        owner=intruder.id,
    )
    assert await stores.sessions.live(session.id, at(1)) == session
    assert await stores.audit.events() == []

    assert await stores.sessions.revoke(session.id, SessionEnd("logout", at(2)), owner=owner.id)
    assert await stores.sessions.live(session.id, at(2)) is None


async def test_revoke_all_ends_every_unrevoked_session_but_the_kept_one(stores: Stores) -> None:
    user = await add_user(stores)
    other = await add_user(stores, "other")
    kept, _ = await start_session(stores, user, created=at(1))
    live, _ = await start_session(stores, user, created=at(2))
    expired, _ = await start_session(stores, user, created=at(3), expires=at(4))
    logged_out, _ = await start_session(stores, user, created=at(5))
    await stores.sessions.revoke(logged_out.id, SessionEnd("logout", at(6)))
    others, _ = await start_session(stores, other, created=at(7))
    now = at(minutes=1)
    everywhere = event("logout_everywhere", now, user=user, session=kept)

    ended = await stores.sessions.revoke_all(
        user.id, SessionEnd("logout_everywhere", now, audit=[everywhere]), keep=kept.id
    )

    assert ended == 2  # the live one and the expired, unrevoked one
    assert await stores.sessions.live_for_user(user.id, now) == [kept]
    history = await stores.sessions.ended_for_user(user.id, since=T0)
    assert {s.id: (s.revoked_reason, s.revoked_at) for s in history} == {
        live.id: ("logout_everywhere", now),
        expired.id: ("logout_everywhere", now),
        logged_out.id: ("logout", at(6)),
    }
    assert await stores.sessions.live(others.id, now) == others
    assert [without_id(e) for e in await stores.audit.events()] == [everywhere]

    # Without `keep`, the kept one goes too.
    assert await stores.sessions.revoke_all(user.id, SessionEnd("revoked", at(minutes=2))) == 1
    assert await stores.sessions.live_for_user(user.id, at(minutes=2)) == []


async def test_seen_from_asks_whether_the_account_started_a_session_there(stores: Stores) -> None:
    user = await add_user(stores, "Minsu", key="minsu")
    other = await add_user(stores, "other")
    session, _ = await start_session(stores, user, created=at(minutes=10), ip="203.0.113.7")
    await start_session(stores, other, created=at(minutes=20), ip="198.51.100.9")

    assert await stores.sessions.seen_from("minsu", "203.0.113.7", since=at(minutes=5))
    assert await stores.sessions.seen_from("minsu", "203.0.113.7", since=at(minutes=10))
    assert not await stores.sessions.seen_from("minsu", "203.0.113.7", since=at(minutes=11))
    assert not await stores.sessions.seen_from("minsu", "198.51.100.9", since=T0)
    assert not await stores.sessions.seen_from("other", "203.0.113.7", since=T0)
    assert not await stores.sessions.seen_from("nobody", "203.0.113.7", since=T0)
    # A session that has ended was still started from there.
    await stores.sessions.revoke(session.id, SessionEnd("logout", at(minutes=11)))
    assert await stores.sessions.seen_from("minsu", "203.0.113.7", since=at(minutes=5))


async def test_purge_deletes_expired_tokens_and_long_ended_sessions(stores: Stores) -> None:
    user = await add_user(stores)
    now = at(days=100)
    # Kept: live, with one expired token (deleted) and one current token (kept).
    live, live_first = await start_session(stores, user, created=at(days=80))
    rotation = await stores.sessions.rotate(
        RotationRequest(
            live_first.id, live.id, user.id, "c" * 64, b"s" * 32, at(days=85), timedelta(days=25)
        )
    )
    assert isinstance(rotation, Rotated)
    # Kept: revoked after `ended_before`, its token unexpired (until day 102).
    recent, recent_token = await start_session(stores, user, created=at(days=88))
    await stores.sessions.revoke(recent.id, SessionEnd("logout", at(days=89)))
    # Deleted: revoked before `ended_before`; its token expired too.
    old_revoked, old_revoked_token = await start_session(stores, user, created=at(days=50))
    await stores.sessions.revoke(old_revoked.id, SessionEnd("logout", at(days=51)))
    # Deleted: expired before `ended_before`, never revoked; its token expired too.
    _, old_expired_token = await start_session(
        stores, user, created=at(days=10), expires=at(days=40)
    )

    deleted = await stores.sessions.purge(now, ended_before=at(days=70))

    # Tokens expired at `now`: live_first (at day 94), old_revoked's (64), old_expired's (24).
    assert deleted == (2, 3)
    assert await stores.sessions.refresh_token(live_first.id) is None
    assert await stores.sessions.refresh_token("c" * 64) == rotation.child
    assert await stores.sessions.refresh_token(recent_token.id) == recent_token
    assert await stores.sessions.refresh_token(old_revoked_token.id) is None
    assert await stores.sessions.refresh_token(old_expired_token.id) is None
    assert await stores.sessions.live(live.id, now) is not None
    history = await stores.sessions.ended_for_user(user.id, since=T0)
    assert [s.id for s in history] == [recent.id]
    assert await stores.sessions.purge(now, ended_before=at(days=70)) == (0, 0)
    # The expired, unrevoked session is gone too: nothing but `live` is left to revoke.
    assert await stores.sessions.revoke_all(user.id, SessionEnd("revoked", now), keep=live.id) == 0


async def test_purge_takes_the_unexpired_tokens_of_the_sessions_it_deletes(stores: Stores) -> None:
    user = await add_user(stores)
    ended, token = await start_session(stores, user, created=at(days=10))
    await stores.sessions.revoke(ended.id, SessionEnd("logout", at(days=11)))

    deleted = await stores.sessions.purge(at(days=12), ended_before=at(days=12))

    # The count is of tokens deleted for their expiry (`tollgate purge` reports "expired
    # refresh tokens"); the tokens that go with a session are not counted.
    assert deleted == (1, 0)
    assert await stores.sessions.refresh_token(token.id) is None
    assert await stores.sessions.ended_for_user(user.id, since=T0) == []
    # The user stays.
    assert await stores.users.by_id(user.id) == user
