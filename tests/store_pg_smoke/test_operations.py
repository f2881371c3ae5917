"""Each remaining store operation once, against the real schema (the contract suite in
tests/store/ is the full specification; these catch SQL and type errors of this one)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta

from tests.store_pg_smoke.data import DAY, new_session, new_user, user_record, utcnow
from tollgate.store.records import AuditRecord, ClientRecord, KeyRecord, Rotated
from tollgate.store.stores import Stores


async def test_users_round_trip_and_change(stores: Stores) -> None:
    now = utcnow()
    older = user_record("Older", now - DAY)
    user = user_record("Minsu", now)
    await stores.users.create(user, [AuditRecord(at=now, event="joined", user_id=user.id)])
    await stores.users.create(older)

    assert await stores.users.by_id(user.id) == user
    assert await stores.users.by_username_key("minsu") == user
    assert await stores.users.by_id(uuid.uuid4()) is None
    assert await stores.users.list() == [older, user]

    assert await stores.users.upgrade_password_hash(user.id, user.password_hash, "rehashed")
    assert not await stores.users.upgrade_password_hash(user.id, "stale", "lost")
    await stores.users.set_scope(user.id, "profile admin")
    changed = await stores.users.by_id(user.id)
    assert changed is not None
    assert (changed.password_hash, changed.scope) == ("rehashed", "profile admin")


async def test_set_password_ends_other_live_sessions(stores: Stores) -> None:
    user = await new_user(stores)
    kept, _ = await new_session(stores, user)
    other, _ = await new_session(stores, user)
    now = utcnow()
    audit = [AuditRecord(at=now, event="password_changed", user_id=user.id)]

    ended = await stores.users.set_password(
        user.id, "new", now, end_sessions="password_changed", keep_session=kept.id, audit=audit
    )

    assert ended == 1
    stored = await stores.users.by_id(user.id)
    assert stored is not None
    assert (stored.password_hash, stored.password_changed_at) == ("new", now)
    assert [s.id for s in await stores.sessions.live_for_user(user.id, now)] == [kept.id]
    [history] = await stores.sessions.ended_for_user(user.id, now)
    assert (history.id, history.revoked_reason) == (other.id, "password_changed")
    assert [e.event for e in await stores.audit.events(user_id=user.id)] == ["password_changed"]


async def test_set_password_without_ending_sessions(stores: Stores) -> None:
    user = await new_user(stores)
    await new_session(stores, user)

    assert await stores.users.set_password(user.id, "new", utcnow()) == 0
    assert len(await stores.sessions.live_for_user(user.id, utcnow())) == 1


async def test_disabling_ends_sessions_and_enabling_does_not_restore_them(stores: Stores) -> None:
    user = await new_user(stores)
    await new_session(stores, user)
    now = utcnow()

    assert await stores.users.set_disabled(user.id, True, now) == 1
    assert await stores.sessions.live_for_user(user.id, now) == []
    [ended] = await stores.sessions.ended_for_user(user.id, now)
    assert ended.revoked_reason == "account_disabled"
    assert await stores.users.set_disabled(user.id, False, now) == 0
    stored = await stores.users.by_id(user.id)
    assert stored is not None
    assert stored.disabled is False


async def test_deleting_a_user_takes_its_sessions_and_keeps_the_audit(stores: Stores) -> None:
    user = await new_user(stores)
    session, first = await new_session(stores, user)
    now = utcnow()
    audit = [AuditRecord(at=now, event="user_deleted", user_id=user.id)]

    assert await stores.users.delete(user.id, audit)
    assert not await stores.users.delete(user.id, audit)

    assert await stores.users.by_id(user.id) is None
    assert await stores.sessions.live(session.id, now) is None
    assert await stores.sessions.refresh_token(first.id) is None
    assert [e.event for e in await stores.audit.events(user_id=user.id)] == ["user_deleted"]


async def test_revoke_only_a_live_session_of_its_owner(stores: Stores) -> None:
    user, stranger = await new_user(stores), await new_user(stores)
    session, _ = await new_session(stores, user)
    now = utcnow()
    audit = [AuditRecord(at=now, event="logout", user_id=user.id, session_id=session.id)]

    assert not await stores.sessions.revoke(session.id, "logout", now, owner=stranger.id)
    assert await stores.audit.events() == []
    assert await stores.sessions.revoke(session.id, "logout", now, owner=user.id, audit=audit)
    assert not await stores.sessions.revoke(session.id, "logout", now, audit=audit)
    assert len(await stores.audit.events()) == 1


async def test_session_listings(stores: Stores) -> None:
    user = await new_user(stores)
    now = utcnow()
    first, token = await new_session(stores, user, now - timedelta(minutes=2))
    second, _ = await new_session(stores, user, now - timedelta(minutes=1))
    rotated = await stores.sessions.rotate(token.id, first.id, user.id, "c", b"s", now, DAY)
    assert isinstance(rotated, Rotated)

    assert [s.id for s in await stores.sessions.live_for_user(user.id, now)] == [
        first.id,
        second.id,
    ]
    assert [s.id for s in await stores.sessions.all_live(now)] == [first.id, second.id]
    assert await stores.sessions.seen_from(user.username_key, "203.0.113.7", now - DAY)
    assert not await stores.sessions.seen_from(user.username_key, "198.51.100.1", now - DAY)
    assert await stores.sessions.revoke_all(user.id, "logout_all", now) == 2
    assert await stores.sessions.all_live(now) == []


async def test_purge_counts_expired_tokens_and_long_ended_sessions(stores: Stores) -> None:
    user = await new_user(stores)
    now = utcnow()
    old, old_token = await new_session(stores, user, now - 40 * DAY)
    await stores.sessions.revoke(old.id, "logout", now - 35 * DAY + timedelta(seconds=1))
    live, live_token = await new_session(stores, user, now)

    assert await stores.sessions.purge(now, now - 30 * DAY) == (1, 1)
    assert await stores.sessions.refresh_token(old_token.id) is None
    assert await stores.sessions.refresh_token(live_token.id) is not None
    assert await stores.sessions.live(live.id, now) is not None


async def test_keys(stores: Stores) -> None:
    now = utcnow()

    def key(kid: str, activates: timedelta) -> KeyRecord:
        return KeyRecord(kid, "ES256", b"pem " + kid.encode(), '{"kty":"EC"}', now, now + activates)

    first, second = key("k1", timedelta(0)), key("k2", timedelta(hours=1))
    await stores.keys.add(first, [AuditRecord(at=now, event="key_rotated", detail="k1")])
    await stores.keys.add(second)

    assert await stores.keys.usable() == [second, first]
    assert await stores.keys.retire("k1", now, [AuditRecord(at=now, event="key_retired")])
    assert not await stores.keys.retire("k1", now, [AuditRecord(at=now, event="key_retired")])
    assert await stores.keys.usable() == [second]
    assert await stores.keys.all() == [second, dataclasses.replace(first, retired_at=now)]
    assert [e.event for e in await stores.audit.events()] == ["key_retired", "key_rotated"]


async def test_clients(stores: Stores) -> None:
    now = utcnow()
    one = ClientRecord("tgc_1", "billing", "a" * 64, now - DAY)
    two = ClientRecord("tgc_2", "reports", "b" * 64, now)
    await stores.clients.add(two)
    await stores.clients.add(one)

    assert await stores.clients.by_id("tgc_1") == one
    assert await stores.clients.by_id("tgc_9") is None
    assert await stores.clients.list() == [one, two]
    assert await stores.clients.delete_by_name("billing")
    assert not await stores.clients.delete_by_name("billing")


async def test_audit_events_filters_and_purge(stores: Stores) -> None:
    now = utcnow()
    someone = uuid.uuid4()
    await stores.audit.add(
        [
            AuditRecord(at=now - 2 * DAY, event="old", user_id=someone),
            AuditRecord(at=now, event="theirs", user_id=someone, ip="203.0.113.7"),
            AuditRecord(at=now, event="anyone", detail="x"),
        ]
    )
    await stores.audit.add([])

    assert [e.event for e in await stores.audit.events()] == ["anyone", "theirs", "old"]
    assert [e.event for e in await stores.audit.events(user_id=someone)] == ["theirs", "old"]
    assert [e.event for e in await stores.audit.events(since=now - DAY)] == ["anyone", "theirs"]
    assert [e.event for e in await stores.audit.events(user_id=someone, since=now)] == ["theirs"]
    assert [e.event for e in await stores.audit.events(limit=1)] == ["anyone"]
    assert await stores.audit.purge(now - DAY) == 1
    assert len(await stores.audit.events()) == 2
