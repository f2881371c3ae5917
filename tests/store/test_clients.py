"""ClientStore: registered OAuth 2.0 clients (RFC 6749 §2), unique by name."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest

from tests.store.builders import an_app, at
from tollgate.store.records import ClientRecord, Conflict
from tollgate.store.stores import Stores


def a_client(name: str, client_id: str, days: float = 0) -> ClientRecord:
    return ClientRecord(
        client_id=client_id,
        name=name,
        secret_hash=hashlib.sha256(name.encode()).hexdigest(),
        created_at=at(days=days),
    )


async def test_clients_read_back_whole_oldest_first(stores: Stores) -> None:
    newer = a_client("billing", "tgc_billing", days=2)
    older = a_client("reports", "tgc_reports", days=1)
    await stores.clients.add(newer)
    await stores.clients.add(older)

    assert await stores.clients.by_id("tgc_billing") == newer
    assert await stores.clients.by_id("tgc_unknown") is None
    assert await stores.clients.list() == [older, newer]


async def test_a_taken_client_name_is_a_conflict_and_stores_nothing(stores: Stores) -> None:
    first = a_client("billing", "tgc_one")
    await stores.clients.add(first)

    with pytest.raises(Conflict) as raised:
        await stores.clients.add(a_client("billing", "tgc_two", days=1))

    assert raised.value.what == "client_name"
    assert await stores.clients.by_id("tgc_two") is None
    assert await stores.clients.list() == [first]


async def test_delete_by_name_deletes_that_client_only(stores: Stores) -> None:
    billing = a_client("billing", "tgc_billing")
    reports = a_client("reports", "tgc_reports", days=1)
    await stores.clients.add(billing)
    await stores.clients.add(reports)

    assert await stores.clients.delete_by_name("billing")

    assert await stores.clients.by_id("tgc_billing") is None
    assert await stores.clients.list() == [reports]
    assert not await stores.clients.delete_by_name("billing")
    assert not await stores.clients.delete_by_name("tgc_reports")  # a name, not an id
    # The name is free again.
    again = a_client("billing", "tgc_again", days=2)
    await stores.clients.add(again)
    assert await stores.clients.list() == [reports, again]


async def test_an_apps_registration_reads_back_whole(stores: Stores) -> None:
    """Redirect URIs in their order, grants, scopes, trusted, the ID token's algorithm."""
    shop = an_app("shop")
    trusted = dataclasses.replace(
        an_app("console", days=1),
        redirect_uris=("https://console.example/b", "https://console.example/a"),
        post_logout_redirect_uris=(),
        grant_types=("client_credentials",),
        scope="",
        trusted=True,
        id_token_signed_response_alg="ES256",
    )
    await stores.clients.add(shop)
    await stores.clients.add(trusted)

    assert await stores.clients.by_id(shop.client_id) == shop
    assert await stores.clients.by_id(trusted.client_id) == trusted
    assert await stores.clients.list() == [shop, trusted]


async def test_a_public_client_has_no_secret(stores: Stores) -> None:
    app = an_app("phone", public=True)
    await stores.clients.add(app)

    found = await stores.clients.by_id(app.client_id)

    assert found == app
    assert found.public
    assert found.secret_hash is None
    assert not a_client("billing", "tgc_billing").public


async def test_a_client_registered_as_before_has_no_sign_in_settings(stores: Stores) -> None:
    """A client for /introspect (as registered before issue 14): no URIs, grants or scopes."""
    await stores.clients.add(ClientRecord("tgc_rs", "resource-server", "a" * 64, at()))

    found = await stores.clients.by_id("tgc_rs")

    assert found is not None
    assert (found.redirect_uris, found.grant_types, found.scope) == ((), (), "")
    assert not found.trusted
    assert found.id_token_signed_response_alg == "RS256"
