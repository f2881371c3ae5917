"""KeyStore: signing keys, newest first, retired but never deleted."""

from __future__ import annotations

import dataclasses

from tests.store.builders import a_key, at, event, without_id
from tollgate.store.stores import Stores


async def test_keys_read_back_whole_newest_activation_first(stores: Stores) -> None:
    old = a_key("k-old", at(days=1))
    hs = a_key("k-hs", at(days=2), alg="HS256")
    future = a_key("k-future", at(days=30))
    for key in (hs, future, old):
        await stores.keys.add(key)

    assert await stores.keys.usable() == [future, hs, old]
    assert await stores.keys.all() == [future, hs, old]


async def test_keys_activating_together_are_ordered_by_kid(stores: Stores) -> None:
    keys = [a_key(kid, at(days=1)) for kid in ("k-c", "k-a", "k-b")]
    for key in keys:
        await stores.keys.add(key)

    assert [k.kid for k in await stores.keys.usable()] == ["k-a", "k-b", "k-c"]


async def test_a_retired_key_leaves_usable_but_stays_in_all(stores: Stores) -> None:
    old = a_key("k-old", at(days=1))
    new = a_key("k-new", at(days=2))
    added = event("key_added", at(days=2), detail="k-new")
    await stores.keys.add(old)
    await stores.keys.add(new, [added])
    retired = event("key_retired", at(days=3), detail="k-old")

    assert await stores.keys.retire("k-old", at(days=3), [retired])

    assert await stores.keys.usable() == [new]
    assert await stores.keys.all() == [new, dataclasses.replace(old, retired_at=at(days=3))]
    assert [without_id(e) for e in await stores.audit.events()] == [retired, added]
    # Once only, and never a key that does not exist; neither writes an audit row.
    assert not await stores.keys.retire("k-old", at(days=4), [event("key_retired", at(days=4))])
    assert not await stores.keys.retire("k-none", at(days=4), [event("key_retired", at(days=4))])
    assert await stores.keys.all() == [new, dataclasses.replace(old, retired_at=at(days=3))]
