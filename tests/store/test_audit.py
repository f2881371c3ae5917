"""AuditStore: security events, newest first, filtered and purged."""

from __future__ import annotations

import uuid

from tests.store.builders import a_user, add_user, at, event, without_id
from tollgate.store.records import AuditQuery, AuditRecord
from tollgate.store.stores import Stores


async def test_events_read_back_whole_newest_first_with_ids(stores: Stores) -> None:
    user = a_user()
    early = event("login_failed", at(1), user=user, detail="bad password")
    late = event("login", at(3), user=user)
    anonymous = AuditRecord(at=at(2), event="login_failed", username="nobody")

    await stores.audit.add([early, late])
    await stores.audit.add([anonymous])
    await stores.audit.add([])

    found = await stores.audit.events()
    assert [without_id(e) for e in found] == [late, anonymous, early]
    ids = [e.id for e in found]
    assert all(isinstance(i, int) for i in ids)
    assert len(set(ids)) == 3


async def test_events_at_the_same_instant_come_newest_id_first(stores: Stores) -> None:
    names = [f"event-{i}" for i in range(5)]
    for name in names:
        await stores.audit.add([AuditRecord(at=at(1), event=name)])

    found = await stores.audit.events()

    assert [e.event for e in found] == names[::-1]
    ids = [e.id or 0 for e in found]
    assert ids == sorted(ids, reverse=True)


async def test_events_filter_by_user_and_since_and_take_a_limit(stores: Stores) -> None:
    minsu = await add_user(stores, "minsu")
    other = await add_user(stores, "other")
    await stores.audit.add(
        [event(f"minsu-{i}", at(minutes=i), user=minsu) for i in range(6)]
        + [event(f"other-{i}", at(minutes=i, seconds=30), user=other) for i in range(6)]
    )

    assert [e.event for e in await stores.audit.events(AuditQuery(user_id=minsu.id))] == [
        f"minsu-{i}" for i in range(5, -1, -1)
    ]
    assert [
        e.event for e in await stores.audit.events(AuditQuery(since=at(minutes=4, seconds=15)))
    ] == [
        "other-5",
        "minsu-5",
        "other-4",
    ]
    assert [
        e.event
        for e in await stores.audit.events(
            AuditQuery(user_id=other.id, since=at(minutes=2), limit=2)
        )
    ] == ["other-5", "other-4"]
    # An event exactly at `since` is included.
    assert [e.event for e in await stores.audit.events(AuditQuery(since=at(minutes=5)))] == [
        "other-5",
        "minsu-5",
    ]
    assert [e.event for e in await stores.audit.events(AuditQuery(limit=3))] == [
        "other-5",
        "minsu-5",
        "other-4",
    ]
    assert await stores.audit.events(AuditQuery(user_id=uuid.uuid4())) == []


async def test_purge_deletes_events_older_than_then(stores: Stores) -> None:
    await stores.audit.add([event(f"e-{i}", at(days=i)) for i in range(5)])

    assert await stores.audit.purge(at(days=2)) == 2

    assert [e.event for e in await stores.audit.events()] == ["e-4", "e-3", "e-2"]
    assert await stores.audit.purge(at(days=2)) == 0
