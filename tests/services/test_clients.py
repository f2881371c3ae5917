"""Clients.authenticate: a registered secret, and never anything for a public client."""

from __future__ import annotations

import pytest

from tests.store.builders import an_app
from tollgate.errors import InvalidClient
from tollgate.services.container import Services


async def test_a_confidential_client_authenticates_with_its_secret_only(
    services: Services,
) -> None:
    new = await services.clients.register("board")

    found = await services.clients.authenticate(new.client_id, new.client_secret)

    assert found.client_id == new.client_id
    with pytest.raises(InvalidClient):
        await services.clients.authenticate(new.client_id, new.client_secret + "x")


@pytest.mark.parametrize("secret", ["", "no such client", "anything"])
async def test_no_secret_authenticates_a_public_client(services: Services, secret: str) -> None:
    """RFC 6749 §2.1: it has none. Not even the preimage of the hash compared against in
    its place (the one an unknown client id is checked against)."""
    phone = an_app("phone", public=True)
    await services.stores.clients.add(phone)

    with pytest.raises(InvalidClient):
        await services.clients.authenticate(phone.client_id, secret)
