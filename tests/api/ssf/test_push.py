"""Push delivery (RFC 8935): SETs POSTed to an allow-listed receiver until it answers 202,
retried with backoff; anything not allow-listed is refused, redirects are not followed.

The receiver is an httpx transport standing in for the other service's HTTP endpoint
(outside Tollgate); it verifies each SET with PyJWT against the JWKS.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI

from tests.api.ssf.conftest import sid_of
from tests.conftest import ISSUER, bearer, join
from tests.support.codes import register
from tests.support.ssf_receiver import SESSION_REVOKED
from tollgate.app import create_app
from tollgate.clock import MovableClock
from tollgate.services.container import Services
from tollgate.services.passwords import PasswordHasher
from tollgate.services.push_delivery import PushDelivery
from tollgate.services.push_targets import PushTargets
from tollgate.services.security_events import SetSigner
from tollgate.settings import Settings

RECEIVER = "https://rs.example/ssf/events"
PUSH = "urn:ietf:rfc:8935"


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    # The app's own push loop looks once at start and then sleeps: these tests push by hand.
    return make_settings(
        ssf_push_allowed_urls=["https://rs.example/ssf/", "https://other.example/exact"],
        ssf_push_interval=60,
        ssf_push_first_retry=2,
        ssf_push_max_backoff=30,
    )


@pytest.fixture
async def app(
    settings: Settings, hasher: PasswordHasher, clock: MovableClock
) -> AsyncIterator[FastAPI]:
    application = create_app(settings, hasher, clock)
    async with application.router.lifespan_context(application):
        yield application


class FakeReceiver:
    """The other service's push endpoint: answers from `answers` (then 202), records what
    it was sent, verified."""

    def __init__(self, jwks: dict[str, Any], client_id: str, answers: list[int]) -> None:
        self.jwks = {k["kid"]: k for k in jwks["keys"]}
        self.client_id = client_id
        self.answers = answers
        self.requests: list[httpx.Request] = []
        self.accepted: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        status = self.answers.pop(0) if self.answers else 202
        if status == 307:
            return httpx.Response(307, headers={"Location": "https://rs.example/ssf/elsewhere"})
        if status == 202:
            assert request.headers["content-type"] == "application/secevent+jwt"
            token = request.content.decode()
            header = jwt.get_unverified_header(token)
            assert header["typ"] == "secevent+jwt"
            jwk = self.jwks[header["kid"]]
            self.accepted.append(
                jwt.decode(
                    token,
                    jwt.PyJWK(jwk).key,
                    algorithms=[jwk["alg"]],
                    audience=self.client_id,
                    issuer=ISSUER,
                )
            )
        return httpx.Response(status)


async def push_stream(client: httpx.AsyncClient, services: Services, url: str) -> httpx.Response:
    board = await register(services, "board", redirect_uris=(), grant_types=("client_credentials",))
    assert board.client_secret is not None
    return await client.post(
        "/ssf/streams",
        json={"delivery": {"method": PUSH, "endpoint_url": url}},
        auth=(board.client_id, board.client_secret),
    )


async def pusher(
    client: httpx.AsyncClient, services: Services, clock: MovableClock, answers: list[int]
) -> tuple[PushDelivery, FakeReceiver]:
    created = await push_stream(client, services, RECEIVER)
    assert created.status_code == 201, created.text
    assert created.json()["delivery"] == {"method": PUSH, "endpoint_url": RECEIVER}
    jwks = (await client.get("/.well-known/jwks.json")).json()
    receiver = FakeReceiver(jwks, created.json()["aud"], answers)
    delivery = PushDelivery(
        services.stores.security_events,
        SetSigner(services.keyring),
        PushTargets(services.settings.ssf_push_allowed_urls),
        services.settings,
        services.metrics,
        clock,
        transport=httpx.MockTransport(receiver),
    )
    return delivery, receiver


async def test_a_logout_is_pushed_once_accepted(
    client: httpx.AsyncClient, app: FastAPI, clock: MovableClock
) -> None:
    services: Services = app.state.services
    delivery, receiver = await pusher(client, services, clock, [])
    tokens = await join(client)
    await client.post("/logout", headers=bearer(tokens["access_token"]))
    assert await delivery.deliver_due() == 1
    [claims] = receiver.accepted
    assert claims["sub_id"]["session"]["id"] == sid_of(tokens)
    assert SESSION_REVOKED in claims["events"]
    assert await delivery.deliver_due() == 0  # accepted: gone
    assert await services.stores.security_events.backlog() == 0


async def test_a_failing_receiver_is_retried_with_backoff_until_it_accepts(
    client: httpx.AsyncClient, app: FastAPI, clock: MovableClock
) -> None:
    services: Services = app.state.services
    delivery, receiver = await pusher(client, services, clock, [503, 500, 400])
    tokens = await join(client)
    await client.post("/logout", headers=bearer(tokens["access_token"]))
    failures_before = services.metrics.ssf_push_failures._value.get()
    assert await delivery.deliver_due() == 1  # 503
    assert await delivery.deliver_due() == 0  # not due yet
    clock.advance(2)  # first retry after 1.6–2 s
    assert await delivery.deliver_due() == 1  # 500
    clock.advance(2)
    assert await delivery.deliver_due() == 0  # the second retry waits longer (3.2–4 s)
    clock.advance(2)
    assert await delivery.deliver_due() == 1  # 400
    clock.advance(30)  # capped at ssf_push_max_backoff
    assert await delivery.deliver_due() == 1  # 202
    assert len(receiver.requests) == 4
    assert [c["sub_id"]["session"]["id"] for c in receiver.accepted] == [sid_of(tokens)]
    assert services.metrics.ssf_push_failures._value.get() - failures_before == 3
    metrics = (await client.get("/metrics")).text
    assert "tollgate_ssf_push_failures_total 3.0" in metrics
    assert "tollgate_ssf_backlog 0.0" in metrics


async def test_a_redirect_is_not_followed(
    client: httpx.AsyncClient, app: FastAPI, clock: MovableClock
) -> None:
    services: Services = app.state.services
    delivery, receiver = await pusher(client, services, clock, [307])
    tokens = await join(client)
    await client.post("/logout", headers=bearer(tokens["access_token"]))
    await delivery.deliver_due()
    assert [str(r.url) for r in receiver.requests] == [RECEIVER]  # never the Location
    assert receiver.accepted == []
    assert await services.stores.security_events.backlog() == 1  # kept for a retry
    metrics = (await client.get("/metrics")).text
    assert "tollgate_ssf_backlog 1.0" in metrics


@pytest.mark.parametrize(
    "url",
    [
        "https://rs.example/other",  # outside the allowed prefix
        "https://rs.example/ssf",  # the prefix without its slash
        "https://rs.example.evil.test/ssf/x",
        "https://evil.test@rs.example/ssf/x",  # user info
        "https://rs.example/ssf/../admin",
        "https://rs.example/ssf/x#frag",
        "http://169.254.169.254/ssf/",
        "https://other.example/exact/more",  # an exact entry covers only itself
        "file:///etc/passwd",
        "https://rs.example\\@evil.test/ssf/",
    ],
)
async def test_a_receiver_url_not_allow_listed_is_refused(
    client: httpx.AsyncClient, app: FastAPI, url: str
) -> None:
    refused = await push_stream(client, app.state.services, url)
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_request")


async def test_allow_listed_urls_are_accepted(client: httpx.AsyncClient, app: FastAPI) -> None:
    for url in ("https://rs.example/ssf/a/b", "https://other.example/exact"):
        services: Services = app.state.services
        board = await register(
            services, f"b{len(url)}", redirect_uris=(), grant_types=("client_credentials",)
        )
        created = await client.post(
            "/ssf/streams",
            json={"delivery": {"method": PUSH, "endpoint_url": url}},
            auth=(board.client_id, board.client_secret or ""),
        )
        assert created.status_code == 201, created.text


async def test_an_endpoint_taken_off_the_list_gets_nothing(
    client: httpx.AsyncClient, app: FastAPI, clock: MovableClock
) -> None:
    services: Services = app.state.services
    _, receiver = await pusher(client, services, clock, [])
    tokens = await join(client)
    await client.post("/logout", headers=bearer(tokens["access_token"]))
    narrowed = PushDelivery(
        services.stores.security_events,
        SetSigner(services.keyring),
        PushTargets([]),  # the operator removed it since the stream was made
        services.settings,
        services.metrics,
        clock,
        transport=httpx.MockTransport(receiver),
    )
    await narrowed.deliver_due()
    assert receiver.requests == []
