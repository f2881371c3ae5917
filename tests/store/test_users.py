"""UserStore: accounts, their uniqueness, and the changes that end sessions with them."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid

import pytest

from tests.store.builders import (
    T0,
    a_user,
    add_user,
    at,
    event,
    start_session,
    without_id,
)
from tollgate.store.records import AuditQuery, Conflict, PasswordChange, SessionEnd, UserRecord
from tollgate.store.stores import Stores


async def test_a_created_user_reads_back_whole_by_id_and_by_key(stores: Stores) -> None:
    user = a_user("Straße", key="strasse", email="minsu@example.org")
    joined = event("join", user=user)
    await stores.users.create(user, [joined])

    assert await stores.users.by_id(user.id) == user
    assert await stores.users.by_username_key("strasse") == user
    assert await stores.users.by_id(uuid.uuid4()) is None
    assert await stores.users.by_username_key("Straße") is None  # the key, not the name
    # The audit row went in with the user.
    assert [without_id(e) for e in await stores.audit.events(AuditQuery(user_id=user.id))] == [
        joined
    ]


async def test_timestamps_come_back_as_the_same_aware_utc_instants(stores: Stores) -> None:
    user = dataclasses.replace(
        a_user(), created_at=at(0.123456), password_changed_at=at(days=1, seconds=0.5)
    )
    await stores.users.create(user)

    found = await stores.users.by_id(user.id)
    assert found is not None
    assert found.created_at == at(0.123456)
    assert found.password_changed_at == at(days=1, seconds=0.5)
    assert found.created_at.utcoffset() is not None
    assert found.created_at.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


async def test_list_gives_every_user_oldest_first(stores: Stores) -> None:
    middle = await add_user(stores, "b-middle", created=at(days=1))
    newest = await add_user(stores, "c-newest", created=at(days=2))
    oldest = await add_user(stores, "a-oldest", created=at(days=0))

    assert await stores.users.list() == [oldest, middle, newest]


async def test_a_taken_key_is_a_username_conflict_and_stores_nothing(stores: Stores) -> None:
    first = await add_user(stores, "Minsu", key="minsu")
    twin = a_user("MINSU", key="minsu", skeleton="another skeleton")

    with pytest.raises(Conflict) as raised:
        await stores.users.create(twin, [event("join", user=twin)])

    assert raised.value.what == "username"
    assert await stores.users.by_id(twin.id) is None
    assert await stores.users.list() == [first]
    assert await stores.audit.events() == []  # the audit row went with the failed write


async def test_a_taken_name_is_a_username_conflict_though_its_skeleton_is_taken_too(
    stores: Stores,
) -> None:
    first = await add_user(stores, "minsu", key="minsu", skeleton="minsu")
    await add_user(stores, "rninsu", key="rninsu", skeleton="rninsu")
    # Its key is the first user's, its skeleton the second's.

    with pytest.raises(Conflict) as raised:
        await stores.users.create(a_user("MinSu", key="minsu", skeleton="rninsu"))

    assert raised.value.what == "username"
    assert await stores.users.by_username_key("minsu") == first


async def test_a_taken_skeleton_is_a_look_alike_conflict(stores: Stores) -> None:
    first = await add_user(stores, "paypal", key="paypal", skeleton="paypa1")
    look_alike = a_user("paypa1", key="paypa1", skeleton="paypa1")

    with pytest.raises(Conflict) as raised:
        await stores.users.create(look_alike)

    assert raised.value.what == "username_skeleton"
    assert await stores.users.by_username_key("paypa1") is None
    assert await stores.users.list() == [first]


async def test_users_without_a_skeleton_do_not_conflict(stores: Stores) -> None:
    one = await add_user(stores, "one", skeleton=None, created=at(1))
    two = await add_user(stores, "two", skeleton=None, created=at(2))

    assert await stores.users.list() == [one, two]


async def test_twenty_concurrent_sign_ups_of_one_name_in_different_case_make_one_account(
    stores: Stores,
) -> None:
    spellings = [
        "".join(c.upper() if (i >> j) & 1 else c for j, c in enumerate("minsu")) for i in range(20)
    ]
    # One key, so one skeleton too: the answer is still "username".
    users = [a_user(name, key="minsu", skeleton="rninsu") for name in spellings]

    results = await asyncio.gather(*(stores.users.create(u) for u in users), return_exceptions=True)

    assert [r for r in results if r is not None and not isinstance(r, Conflict)] == []
    conflicts = [r for r in results if isinstance(r, Conflict)]
    assert len(conflicts) == 19
    assert {c.what for c in conflicts} == {"username"}
    winner = users[results.index(None)]
    assert await stores.users.list() == [winner]
    assert await stores.users.by_username_key("minsu") == winner


async def test_twenty_concurrent_sign_ups_of_look_alikes_make_one_account(stores: Stores) -> None:
    users = [a_user(f"paypal{'l' * i}", skeleton="paypal") for i in range(20)]

    results = await asyncio.gather(*(stores.users.create(u) for u in users), return_exceptions=True)

    conflicts = [r for r in results if isinstance(r, Conflict)]
    assert len(conflicts) == 19, results
    assert {c.what for c in conflicts} == {"username_skeleton"}
    assert await stores.users.list() == [users[results.index(None)]]


async def test_set_password_alone_keeps_every_session(stores: Stores) -> None:
    user = await add_user(stores)
    session, _ = await start_session(stores, user)

    ended = await stores.users.set_password(PasswordChange(user.id, "$argon2id$new", at(days=1)))

    assert ended == 0
    found = await stores.users.by_id(user.id)
    assert found == dataclasses.replace(
        user, password_hash="$argon2id$new", password_changed_at=at(days=1)
    )
    assert await stores.sessions.live(session.id, at(days=1)) == session


async def test_set_password_ends_the_live_sessions_but_the_kept_one(stores: Stores) -> None:
    user = await add_user(stores)
    other = await add_user(stores, "other")
    kept, _ = await start_session(stores, user, created=at(1))
    ended_one, _ = await start_session(stores, user, created=at(2))
    ended_two, _ = await start_session(stores, user, created=at(3))
    logged_out, _ = await start_session(stores, user, created=at(4))
    await stores.sessions.revoke(logged_out.id, SessionEnd("logout", at(5)))
    expired, _ = await start_session(stores, user, created=at(6), expires=at(7))
    others, _ = await start_session(stores, other, created=at(8))
    now = at(minutes=10)
    changed = event("password_changed", now, user=user)

    ended = await stores.users.set_password(
        PasswordChange(
            user.id,
            "$argon2id$new",
            now,
            end_sessions="password_changed",
            keep_session=kept.id,
            audit=[changed],
        )
    )

    assert ended == 2
    assert [s.id for s in await stores.sessions.live_for_user(user.id, now)] == [kept.id]
    history = await stores.sessions.ended_for_user(user.id, since=T0)
    assert {s.id: (s.revoked_reason, s.revoked_at) for s in history} == {
        ended_one.id: ("password_changed", now),
        ended_two.id: ("password_changed", now),
        logged_out.id: ("logout", at(5)),
    }
    assert expired.id not in {s.id for s in history}  # it was no longer live: not "ended" now
    assert await stores.sessions.live(others.id, now) == others
    assert [without_id(e) for e in await stores.audit.events()] == [changed]


async def test_a_rehash_replaces_only_the_hash_it_was_made_from(stores: Stores) -> None:
    user = await add_user(stores)

    assert await stores.users.upgrade_password_hash(user.id, user.password_hash, "$rehash1")
    # A rehash is no password change: password_changed_at stays.
    assert await stores.users.by_id(user.id) == dataclasses.replace(user, password_hash="$rehash1")

    # A concurrent password change won: the rehash of the old hash must not undo it.
    await stores.users.set_password(PasswordChange(user.id, "$changed", at(1)))
    assert not await stores.users.upgrade_password_hash(user.id, "$rehash1", "$rehash2")
    found = await stores.users.by_id(user.id)
    assert found is not None
    assert found.password_hash == "$changed"

    assert not await stores.users.upgrade_password_hash(uuid.uuid4(), "$changed", "$x")


async def test_disabling_ends_every_live_session_as_account_disabled(stores: Stores) -> None:
    user = await add_user(stores)
    other = await add_user(stores, "other")
    first, _ = await start_session(stores, user, created=at(1))
    second, _ = await start_session(stores, user, created=at(2))
    logged_out, _ = await start_session(stores, user, created=at(3))
    await stores.sessions.revoke(logged_out.id, SessionEnd("logout", at(4)))
    others, _ = await start_session(stores, other, created=at(5))
    now = at(minutes=1)
    disabled = event("user_disabled", now, user=user)

    assert await stores.users.set_disabled(user.id, True, now, [disabled]) == 2

    found = await stores.users.by_id(user.id)
    assert found == dataclasses.replace(user, disabled=True)
    assert await stores.sessions.live_for_user(user.id, now) == []
    ended = {
        s.id: (s.revoked_reason, s.revoked_at)
        for s in await stores.sessions.ended_for_user(user.id, since=T0)
    }
    assert ended == {
        first.id: ("account_disabled", now),
        second.id: ("account_disabled", now),
        logged_out.id: ("logout", at(4)),
    }
    assert await stores.sessions.live(others.id, now) == others
    assert [without_id(e) for e in await stores.audit.events()] == [disabled]

    # Enabling ends nothing and brings no session back.
    assert await stores.users.set_disabled(user.id, False, at(minutes=2)) == 0
    assert await stores.users.by_id(user.id) == user
    assert await stores.sessions.live_for_user(user.id, at(minutes=2)) == []


async def test_set_scope_changes_the_scope_with_its_audit_row(stores: Stores) -> None:
    user = await add_user(stores, scope="openid")
    changed = event("scope_changed", at(1), user=user, detail="openid admin")

    await stores.users.set_scope(user.id, "openid admin", [changed])

    assert await stores.users.by_id(user.id) == dataclasses.replace(user, scope="openid admin")
    assert [without_id(e) for e in await stores.audit.events(AuditQuery(user_id=user.id))] == [
        changed
    ]


async def test_delete_takes_sessions_and_tokens_but_keeps_audit_rows(stores: Stores) -> None:
    user = await add_user(stores)
    other = await add_user(stores, "other")
    session, token = await start_session(stores, user)
    revoked, revoked_token = await start_session(stores, user, created=at(1))
    await stores.sessions.revoke(
        revoked.id, SessionEnd("logout", at(2), audit=[event("logout", at(2), user)])
    )
    others, others_token = await start_session(stores, other)
    deleted = event("user_deleted", at(3), user=user)

    assert await stores.users.delete(user.id, [deleted])

    assert await stores.users.by_id(user.id) is None
    assert await stores.users.by_username_key(user.username_key) is None
    assert await stores.users.list() == [other]
    assert await stores.sessions.live(session.id, at(3)) is None
    assert await stores.sessions.ended_for_user(user.id, since=T0) == []
    assert await stores.sessions.refresh_token(token.id) is None
    assert await stores.sessions.refresh_token(revoked_token.id) is None
    assert await stores.sessions.refresh_token(others_token.id) == others_token
    assert await stores.sessions.live(others.id, at(3)) == others
    assert [e.event for e in await stores.audit.events(AuditQuery(user_id=user.id))] == [
        "user_deleted",
        "logout",
    ]
    assert await stores.users.delete(user.id) is False
    # The name is free again.
    again = await add_user(stores, user.username)
    assert await stores.users.by_username_key(user.username_key) == again


async def test_a_user_record_is_what_create_was_given(stores: Stores) -> None:
    # Fields the database could default (disabled, timestamps) come from the record.
    user = dataclasses.replace(a_user(), disabled=True, email=None, scope="")
    await stores.users.create(user)

    found = await stores.users.by_id(user.id)
    assert isinstance(found, UserRecord)
    assert found == user
