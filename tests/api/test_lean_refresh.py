"""POST /refresh's lean path answers exactly as the full route does.

A request with `X-Token-Delivery: body` (a header the lean path leaves to the full route,
which treats any value but "cookie" as the default delivery) is answered by the route;
the same request without it by the lean path. Both must give the same status, body and
headers, for every kind of answer.
"""

import json
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.responses import JSONResponse

from tests.api.test_account_api import login
from tests.conftest import join
from tollgate.api.lean_refresh import LeanRefresh, token_json
from tollgate.api.responses import NO_STORE, token_body
from tollgate.services.grants import TokenPair
from tollgate.settings import MAX_BODY_BYTES

FULL_ROUTE = {"X-Token-Delivery": "body"}
VARYING = {"x-request-id", "content-length"}


async def lean_of(client: httpx.AsyncClient, app: FastAPI) -> LeanRefresh:
    """The lean path in front of the app, as servers run it (app.state.asgi)."""
    layer: Any = app.state.asgi
    while not isinstance(layer, LeanRefresh):
        layer = layer.app
    return layer


def shape(response: httpx.Response) -> tuple[int, dict[str, str]]:
    headers = {k: v for k, v in response.headers.items() if k not in VARYING}
    return response.status_code, headers


class Counting:
    """Counts the requests the lean path itself answered (a spy on the middleware)."""

    def __init__(self, lean: LeanRefresh) -> None:
        self.count = 0
        original = lean._answer

        async def counted(*args: Any) -> Any:
            self.count += 1
            return await original(*args)

        lean._answer = counted  # type: ignore[method-assign]


async def refresh(client: httpx.AsyncClient, token: str, **headers: str) -> httpx.Response:
    return await client.post("/refresh", json={"refresh_token": token}, headers=headers)


async def test_a_rotation_answers_alike(client: httpx.AsyncClient, app: FastAPI) -> None:
    spy = Counting(await lean_of(client, app))
    first = await join(client)
    second = await login(client)
    lean = await refresh(client, first["refresh_token"])
    full = await refresh(client, second["refresh_token"], **FULL_ROUTE)
    assert spy.count == 1
    assert lean.status_code == full.status_code == 200
    assert shape(lean) == shape(full)
    assert lean.json().keys() == full.json().keys()
    assert lean.json()["scope"] == full.json()["scope"]
    # The rotated pair works, and the used token is used up.
    again = await refresh(client, lean.json()["refresh_token"])
    assert again.status_code == 200


@pytest.mark.parametrize(
    "token",
    [
        "e30.e30.e30",  # well-formed, not a token of ours
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.sig",
    ],
)
async def test_refused_tokens_answer_alike(
    client: httpx.AsyncClient, app: FastAPI, token: str
) -> None:
    spy = Counting(await lean_of(client, app))
    lean = await refresh(client, token)
    full = await refresh(client, token, **FULL_ROUTE)
    assert spy.count == 1
    assert lean.status_code == 401
    assert shape(lean) == shape(full)
    assert lean.json() == full.json()


async def test_theft_answers_alike_and_ends_the_session(
    client: httpx.AsyncClient, app: FastAPI, make_settings: Any
) -> None:
    spy = Counting(await lean_of(client, app))
    answers = []
    for headers in ({}, FULL_ROUTE):
        tokens = await login(client) if answers else await join(client)
        rotated = await refresh(client, tokens["refresh_token"], **headers)
        assert rotated.status_code == 200
        await refresh(client, rotated.json()["refresh_token"], **headers)
        # The grandparent now: not the immediately previous token, so theft.
        stolen = await refresh(client, tokens["refresh_token"], **headers)
        answers.append(stolen)
        ended = await client.get(
            "/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        assert ended.status_code == 401
    assert spy.count == 3
    assert [a.status_code for a in answers] == [401, 401]
    assert shape(answers[0]) == shape(answers[1])
    assert answers[0].json() == answers[1].json()


@pytest.mark.parametrize(
    "body",
    [
        b'{"refresh_token": 5}',
        b'{"refresh_token": "a.b.c", "scope": "x"}',
        b"{}",
        b"[1]",
        b'{"refresh_token": "a.b.c"',
        '{"refresh_token": "\u00e9.b.c"}'.encode(),
    ],
)
async def test_anything_unusual_goes_to_the_full_route(
    client: httpx.AsyncClient, app: FastAPI, body: bytes
) -> None:
    spy = Counting(await lean_of(client, app))
    headers = {"Content-Type": "application/json"}
    lean = await client.post("/refresh", content=body, headers=headers)
    full = await client.post("/refresh", content=body, headers=headers | FULL_ROUTE)
    assert spy.count == 0
    assert lean.status_code in (400, 401, 422)
    assert shape(lean) == shape(full)
    assert lean.json() == full.json()


async def test_the_request_limit_applies(client: httpx.AsyncClient, app: FastAPI) -> None:
    # RATE_LIMIT_REQUESTS counts lean and full requests alike, per address.
    services = app.state.services
    tokens = await join(client)
    limit = int(services.settings.rate_limit_requests.split("/")[0])
    token = tokens["refresh_token"]
    statuses = []
    for _ in range(limit + 1):
        answer = await refresh(client, token)
        statuses.append(answer.status_code)
        if answer.status_code == 200:
            token = answer.json()["refresh_token"]
    assert 429 in statuses
    throttled = await refresh(client, token)
    assert throttled.status_code == 429
    assert "retry-after" in throttled.headers


async def test_request_id_and_security_headers_as_the_middleware_add_them(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """Over https too (HSTS), with the caller's request id kept and a bad one replaced."""
    spy = Counting(await lean_of(client, app))
    transport = httpx.ASGITransport(app=app.state.asgi, client=("203.0.113.7", 5555))
    async with httpx.AsyncClient(transport=transport, base_url="https://tollgate.test") as https:
        answers = []
        for headers in ({}, FULL_ROUTE):
            tokens = await login(https) if answers else await join(https)
            kept = await refresh(
                https, tokens["refresh_token"], **headers, **{"X-Request-ID": "gw-7"}
            )
            replaced = await refresh(
                https, kept.json()["refresh_token"], **headers, **{"X-Request-ID": "no spaces"}
            )
            answers.append((kept, replaced))
    assert spy.count == 2
    (lean, lean_new), (full, full_new) = answers
    assert lean.headers["x-request-id"] == full.headers["x-request-id"] == "gw-7"
    assert len(lean_new.headers["x-request-id"]) == len(full_new.headers["x-request-id"]) == 32
    assert lean.headers["strict-transport-security"] == full.headers["strict-transport-security"]
    assert lean.headers["x-content-type-options"] == "nosniff"
    assert shape(lean) == shape(full)
    assert shape(lean_new) == shape(full_new)


async def test_metrics_and_access_log_name_the_route(
    app: FastAPI, client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    lean_path = await lean_of(client, app)
    spy = Counting(lean_path)
    first, second = await join(client), await login(client)
    for headers in ({}, FULL_ROUTE):
        tokens = first if not headers else second
        assert (await refresh(client, tokens["refresh_token"], **headers)).status_code == 200
        assert (await refresh(client, "e30.e30.e30", **headers)).status_code == 401
    assert spy.count == 2
    text = (await client.get("/metrics")).text
    for status, count in (("200", 2.0), ("401", 2.0)):
        line = (
            "tollgate_http_request_duration_seconds_count"
            f'{{method="POST",route="/refresh",status="{status}"}} {count}'
        )
        assert line in text
    assert lean_path.access_log is not None
    capsys.readouterr()
    lean_path.access_log.flush()
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    refreshes = [line for line in lines if line["path"] == "/refresh"]
    assert [(line["route"], line["status"], line["ip"]) for line in refreshes] == [
        ("/refresh", 200, "203.0.113.7"),
        ("/refresh", 401, "203.0.113.7"),
    ] * 2
    assert all(line["method"] == "POST" for line in refreshes)


async def test_a_body_past_the_limit_is_the_full_routes_413(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    spy = Counting(await lean_of(client, app))
    body = json.dumps({"refresh_token": "a" * (MAX_BODY_BYTES + 1)}).encode()
    answer = await client.post(
        "/refresh", content=body, headers={"Content-Type": "application/json"}
    )
    assert spy.count == 0
    assert answer.status_code == 413
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "x-request-id" in answer.headers


def test_the_token_body_is_the_routes_byte_for_byte() -> None:
    pair = TokenPair(
        session_id=uuid.uuid4(),
        access_token="a.b.c",
        expires_in=600,
        refresh_token="d.e.f",
        refresh_expires_in=1_209_600,
        scope="profile email ünïcode",
    )
    route = JSONResponse(
        token_body(pair).model_dump(mode="json", exclude={"csrf_token"}), headers=NO_STORE
    )
    assert token_json(pair) == route.body


async def test_headers_come_in_the_routes_order(client: httpx.AsyncClient, app: FastAPI) -> None:
    spy = Counting(await lean_of(client, app))
    first, second = await join(client), await login(client)
    lean = await refresh(client, first["refresh_token"])
    full = await refresh(client, second["refresh_token"], **FULL_ROUTE)
    refused = [await refresh(client, "e30.e30.e30", **h) for h in ({}, FULL_ROUTE)]
    assert spy.count == 2
    assert list(lean.headers.keys()) == list(full.headers.keys())
    assert list(refused[0].headers.keys()) == list(refused[1].headers.keys())
