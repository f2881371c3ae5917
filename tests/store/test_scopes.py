"""ScopeStore: what each scope allows, in the operator's words, for the consent page."""

from __future__ import annotations

from tests.store.builders import at, event, without_id
from tollgate.store.records import ScopeDescription
from tollgate.store.stores import Stores


async def test_descriptions_read_back_by_name_and_a_new_one_replaces(stores: Stores) -> None:
    calendar = ScopeDescription("calendar:read", "See your calendar.", at(1))
    upper = ScopeDescription("Zeta", "Sorted by code point: before lower case.", at(1))
    email = ScopeDescription("email", "See your email address.", at(2))
    described = event("scope_described", at(2), detail="email")
    await stores.scopes.describe(email, [described])
    await stores.scopes.describe(calendar)
    await stores.scopes.describe(upper)

    assert await stores.scopes.list() == [upper, calendar, email]

    changed = ScopeDescription("email", "See the address you signed up with.", at(3))
    await stores.scopes.describe(changed)

    assert await stores.scopes.list() == [upper, calendar, changed]
    assert [without_id(e) for e in await stores.audit.events()] == [described]
