"""ClientStore: registered OAuth 2.0 clients (RFC 6749 §2), unique by name."""

from __future__ import annotations

import hashlib

import pytest

from tests.store.builders import at
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
