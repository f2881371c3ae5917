"""The Shared Signals transmitter in-process: metadata, streams, poll delivery with
acknowledgement and long polling; every SET checked by the independent receiver."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest

from tests.api.ssf.conftest import log_in, sid_of, sub_of
from tests.conftest import ISSUER, bearer, join
from tests.support.codes import register
from tests.support.ssf_receiver import SESSION_REVOKED, Receiver, path_of, revoked_sids
from tollgate.services.container import Services
from tollgate.services.security_events import session_revoked
from tollgate.store.records import SecurityEventRecord


async def test_metadata_names_the_endpoints(client: httpx.AsyncClient) -> None:
    response = await client.get("/.well-known/ssf-configuration")
    assert response.status_code == 200
    meta = response.json()
    assert meta["issuer"] == ISSUER
    assert meta["jwks_uri"] == f"{ISSUER}/.well-known/jwks.json"
    assert set(meta["delivery_methods_supported"]) == {"urn:ietf:rfc:8936", "urn:ietf:rfc:8935"}
    assert meta["configuration_endpoint"] == f"{ISSUER}/ssf/streams"
    assert meta["status_endpoint"] == f"{ISSUER}/ssf/status"


async def test_a_logout_yields_one_verified_session_revoked_set(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    tokens = await join(client)
    assert await receiver.poll() == []
    assert (await client.post("/logout", headers=bearer(tokens["access_token"]))).status_code == 204
    [claims] = await receiver.poll()
    assert claims["aud"] == receiver.client_id
    assert claims["sub_id"] == {
        "format": "complex",
        "session": {"format": "opaque", "id": sid_of(tokens)},
        "user": {"format": "iss_sub", "iss": ISSUER, "sub": sub_of(tokens)},
    }
    event = claims["events"][SESSION_REVOKED]
    assert isinstance(event["event_timestamp"], int)
    assert event["reason_admin"]["en"]
    assert await receiver.poll() == []  # acknowledged: not again


async def test_what_is_not_acknowledged_comes_again_until_it_is(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    tokens = await join(client)
    await client.post("/logout", headers=bearer(tokens["access_token"]))
    first = await receiver.poll(acknowledge=False)
    again = await receiver.poll(acknowledge=False)
    assert [c["jti"] for c in first] == [c["jti"] for c in again]
    assert len(first) == 1
    await receiver.poll()  # acknowledges what it holds
    assert await receiver.poll() == []


async def test_each_receiver_gets_its_own_set(
    client: httpx.AsyncClient, services: Services, receiver: Receiver
) -> None:
    shop = await register(services, "shop", redirect_uris=(), grant_types=("client_credentials",))
    assert shop.client_secret is not None
    other = Receiver(client, shop.client_id, shop.client_secret, ISSUER)
    await other.subscribe()
    tokens = await join(client)
    await client.post("/logout", headers=bearer(tokens["access_token"]))
    [mine], [theirs] = await receiver.poll(), await other.poll()
    assert mine["aud"] == receiver.client_id
    assert theirs["aud"] == shop.client_id
    assert mine["jti"] != theirs["jti"]
    assert revoked_sids([mine]) == revoked_sids([theirs]) == [sid_of(tokens)]


async def test_max_events_and_more_available(client: httpx.AsyncClient, receiver: Receiver) -> None:
    await join(client)
    for _ in range(3):
        tokens = await log_in(client)
        await client.post("/logout", headers=bearer(tokens["access_token"]))
    response = await client.post(
        path_of(receiver.poll_url),
        json={"maxEvents": 2, "returnImmediately": True},
        auth=receiver.auth,
    )
    assert response.json()["moreAvailable"] is True
    assert len(response.json()["sets"]) == 2
    assert len(await receiver.poll(max_events=10)) == 3


async def test_a_long_poll_returns_as_soon_as_a_session_ends(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    tokens = await join(client)
    waiting = asyncio.create_task(receiver.poll(return_immediately=False))
    await asyncio.sleep(0.3)
    assert not waiting.done()  # nothing yet: it waits
    started = time.monotonic()
    await client.post("/logout", headers=bearer(tokens["access_token"]))
    claims = await asyncio.wait_for(waiting, 2)
    assert time.monotonic() - started < 1.0
    assert revoked_sids(claims) == [sid_of(tokens)]


async def test_a_long_poll_without_events_ends_empty_after_the_bound(
    receiver: Receiver,
) -> None:
    started = time.monotonic()
    assert await receiver.poll(return_immediately=False) == []
    assert 1.5 <= time.monotonic() - started < 4  # TOLLGATE_SSF_LONG_POLL_SECONDS=2


async def test_a_long_poll_sees_events_other_processes_stored(
    client: httpx.AsyncClient, services: Services, receiver: Receiver
) -> None:
    """An event stored by another worker or replica (here: straight into the store, as
    that process would) is found by the table check, not only by this process's wake-up."""
    tokens = await join(client)
    waiting = asyncio.create_task(receiver.poll(return_immediately=False))
    await asyncio.sleep(0.2)
    [stream] = await services.stores.security_events.streams()
    claims = session_revoked(
        ISSUER, uuid.UUID(sub_of(tokens)), uuid.UUID(sid_of(tokens)), services.clock.now(), "logout"
    )
    await services.stores.security_events.add_events(
        [SecurityEventRecord(claims.jti, stream.stream_id, services.clock.now(), claims.text())]
    )
    got = await asyncio.wait_for(waiting, 1.5)
    assert revoked_sids(got) == [sid_of(tokens)]


async def test_streams_need_a_registered_clients_credentials(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    no_auth = await client.post("/ssf/streams", json={"delivery": {"method": "urn:ietf:rfc:8936"}})
    assert (no_auth.status_code, no_auth.json()["error"]) == (401, "invalid_client")
    wrong = await client.post(
        path_of(receiver.poll_url),
        json={"returnImmediately": True},
        auth=httpx.BasicAuth(receiver.client_id, "wrong"),
    )
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")
    user = await join(client)
    as_user = await client.get("/ssf/streams", headers=bearer(user["access_token"]))
    assert as_user.status_code == 401  # a user's token is not a client's


async def test_a_client_credentials_token_works_as_bearer(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    token = await client.post(
        "/auth", data={"grant_type": "client_credentials"}, auth=receiver.auth
    )
    assert token.status_code == 200, token.text
    listed = await client.get("/ssf/streams", headers=bearer(token.json()["access_token"]))
    assert listed.status_code == 200
    assert [s["delivery"]["endpoint_url"] for s in listed.json()] == [receiver.poll_url]


async def test_stream_management_is_per_client(
    client: httpx.AsyncClient, services: Services, receiver: Receiver
) -> None:
    [stream] = (await client.get("/ssf/streams", auth=receiver.auth)).json()
    stream_id = stream["stream_id"]
    assert stream["events_delivered"]
    one = await client.get("/ssf/streams", params={"stream_id": stream_id}, auth=receiver.auth)
    assert one.json() == stream
    shop = await register(services, "shop", redirect_uris=(), grant_types=("client_credentials",))
    assert shop.client_secret is not None
    theirs = httpx.BasicAuth(shop.client_id, shop.client_secret)
    for response in (
        await client.get("/ssf/streams", params={"stream_id": stream_id}, auth=theirs),
        await client.get("/ssf/status", params={"stream_id": stream_id}, auth=theirs),
        await client.delete("/ssf/streams", params={"stream_id": stream_id}, auth=theirs),
        await client.post(path_of(receiver.poll_url), json={}, auth=theirs),
    ):
        assert response.status_code == 404, response.text
    assert (await client.get("/ssf/streams", auth=theirs)).json() == []
    status = await client.get("/ssf/status", params={"stream_id": stream_id}, auth=receiver.auth)
    assert status.json() == {"stream_id": stream_id, "status": "enabled"}
    deleted = await client.delete(
        "/ssf/streams", params={"stream_id": stream_id}, auth=receiver.auth
    )
    assert deleted.status_code == 204
    assert (await client.get("/ssf/streams", auth=receiver.auth)).json() == []


async def test_a_paused_stream_holds_its_events(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    [stream] = (await client.get("/ssf/streams", auth=receiver.auth)).json()
    paused = await client.post(
        "/ssf/status",
        json={"stream_id": stream["stream_id"], "status": "paused"},
        auth=receiver.auth,
    )
    assert paused.json()["status"] == "paused"
    tokens = await join(client)
    await client.post("/logout", headers=bearer(tokens["access_token"]))
    assert await receiver.poll() == []
    await client.post(
        "/ssf/status",
        json={"stream_id": stream["stream_id"], "status": "enabled"},
        auth=receiver.auth,
    )
    assert revoked_sids(await receiver.poll()) == [sid_of(tokens)]


async def test_verification_puts_an_event_in_the_stream(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    [stream] = (await client.get("/ssf/streams", auth=receiver.auth)).json()
    asked = await client.post(
        "/ssf/verify", json={"stream_id": stream["stream_id"], "state": "abc"}, auth=receiver.auth
    )
    assert asked.status_code == 204
    [claims] = await receiver.poll()
    [(event_type, body)] = claims["events"].items()
    assert event_type.endswith("/ssf/event-type/verification")
    assert body == {"state": "abc"}


@pytest.mark.parametrize(
    "body",
    [
        {"maxEvents": -1},
        {"maxEvents": "3"},
        {"returnImmediately": "yes"},
        {"ack": "jti"},
        {"ack": [1]},
        {"setErrs": []},
    ],
)
async def test_a_malformed_poll_is_a_400(
    client: httpx.AsyncClient, receiver: Receiver, body: dict[str, object]
) -> None:
    response = await client.post(path_of(receiver.poll_url), json=body, auth=receiver.auth)
    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")


async def test_an_unknown_delivery_method_is_a_400(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    response = await client.post(
        "/ssf/streams",
        json={"delivery": {"method": "urn:example:carrier-pigeon"}},
        auth=receiver.auth,
    )
    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")
