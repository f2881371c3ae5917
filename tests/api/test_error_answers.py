"""Each kind of error, answered exactly: status, body, WWW-Authenticate and Retry-After.

The errors render themselves (tollgate.errors, tollgate.verify.errors); these answers are
the contract (API.md "Conventions", RFC 6749 §5.2, RFC 6750 §3) and must not drift.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import PASSWORD, bearer, join
from tollgate.api import errors
from tollgate.api.errors import TokenEndpointRoute
from tollgate.app import create_app
from tollgate.errors import InvalidClient, InvalidGrant
from tollgate.services.passwords import PasswordHasher
from tollgate.settings import Settings

REALM = 'Bearer realm="tollgate"'
MISSING = "This needs a bearer token in the Authorization header."
WRONG_SCHEME = "Use the header `Authorization: Bearer <token>`."
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def assert_answer(
    response: httpx.Response,
    status: int,
    body: dict[str, Any],
    challenge: str | None,
    retry_after: str | None = None,
) -> None:
    assert response.status_code == status, response.text
    assert response.json() == body
    assert response.headers.get("www-authenticate") == challenge
    assert response.headers.get("retry-after") == retry_after


def invalid_token(description: str) -> str:
    return f'{REALM}, error="invalid_token", error_description="{description}"'


async def test_no_bearer_token_is_a_plain_challenge(client: httpx.AsyncClient) -> None:
    body = {"error": "invalid_token", "error_description": MISSING}
    assert_answer(await client.get("/me"), 401, body, REALM)
    assert_answer(await client.post("/logout"), 401, body, REALM)
    assert_answer(await client.get("/auth"), 401, body, REALM)


async def test_wrong_scheme_names_the_header(client: httpx.AsyncClient) -> None:
    body = {"error": "invalid_token", "error_description": WRONG_SCHEME}
    for path in ("/me", "/auth"):
        response = await client.get(path, headers={"Authorization": "Basic abc"})
        assert_answer(response, 401, body, invalid_token(WRONG_SCHEME))


async def test_a_refused_token_carries_its_reason(client: httpx.AsyncClient) -> None:
    body = {"error": "invalid_token", "error_description": "The token is malformed."}
    for path in ("/me", "/auth"):
        response = await client.get(path, headers=bearer("not.a.token"))
        assert_answer(response, 401, body, invalid_token("The token is malformed."))


async def test_missing_scope_is_403_with_the_scope(client: httpx.AsyncClient) -> None:
    tokens = await join(client)
    response = await client.get("/auth?scope=zeta alpha", headers=bearer(tokens["access_token"]))
    description = "This needs the scope: alpha zeta."
    challenge = (
        f'{REALM}, error="insufficient_scope", error_description="{description}", '
        'scope="alpha zeta"'
    )
    body = {"error": "insufficient_scope", "error_description": description}
    assert_answer(response, 403, body, challenge)


async def test_wrong_password_is_401_on_json_routes_and_400_on_the_token_endpoint(
    client: httpx.AsyncClient,
) -> None:
    await join(client)
    body = {"error": "invalid_grant", "error_description": "The username or password is incorrect."}
    login = await client.post("/login", json={"username": "minsu", "password": "nope"})
    assert_answer(login, 401, body, REALM)
    grant = "grant_type=password&username=minsu&password=nope"
    assert_answer(await client.post("/auth", content=grant, headers=FORM), 400, body, None)


async def test_bad_refresh_token_is_401_on_refresh_and_400_on_the_token_endpoint(
    client: httpx.AsyncClient,
) -> None:
    description = "The refresh token is not usable: The token is malformed."
    body = {"error": "invalid_grant", "error_description": description}
    lean = await client.post("/refresh", json={"refresh_token": "a.b.c"})
    assert_answer(lean, 401, body, REALM)
    # With an Origin the full route answers, the same way.
    full = await client.post(
        "/refresh", json={"refresh_token": "a.b.c"}, headers={"Origin": "http://elsewhere"}
    )
    assert_answer(full, 401, body, REALM)
    grant = "grant_type=refresh_token&refresh_token=a.b.c"
    assert_answer(await client.post("/auth", content=grant, headers=FORM), 400, body, None)


async def test_token_endpoint_request_errors_are_400(client: httpx.AsyncClient) -> None:
    missing = await client.post("/auth", content="", headers=FORM)
    assert missing.status_code == 400
    assert missing.json()["error"] == "invalid_request"
    assert "fields" not in missing.json()
    assert "www-authenticate" not in missing.headers
    unsupported = await client.post("/auth", content="grant_type=password&x=1", headers=FORM)
    assert unsupported.status_code == 400
    other = await client.post("/auth", json={"grant_type": "implicit"})
    body = {
        "error": "unsupported_grant_type",
        "error_description": "Supported grant types are password, refresh_token, "
        "authorization_code and client_credentials.",
    }
    assert_answer(other, 400, body, None)


async def test_client_authentication_stays_401_on_the_token_endpoints(
    client: httpx.AsyncClient,
) -> None:
    challenge = f'{REALM}, Basic realm="tollgate"'
    absent = await client.post("/introspect", content="token=abc", headers=FORM)
    body = {
        "error": "invalid_client",
        "error_description": "This endpoint needs client credentials (HTTP Basic).",
    }
    assert_answer(absent, 401, body, challenge)
    malformed = await client.post(
        "/revoke", content="token=abc", headers={**FORM, "Authorization": "Basic %%%"}
    )
    body = {"error": "invalid_client", "error_description": "The Basic credentials are malformed."}
    assert_answer(malformed, 401, body, challenge)
    unknown = base64.b64encode(b"nobody:secret").decode()
    wrong = await client.post(
        "/introspect", content="token=abc", headers={**FORM, "Authorization": f"Basic {unknown}"}
    )
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"
    assert wrong.headers["www-authenticate"] == challenge


async def test_invalid_input_lists_fields_with_422(client: httpx.AsyncClient) -> None:
    response = await client.post("/join", json={"username": "", "password": PASSWORD})
    assert response.status_code == 422
    assert set(response.json()) == {"error", "error_description", "fields"}
    assert list(response.json()["fields"]) == ["username"]
    assert "www-authenticate" not in response.headers


async def test_not_found_has_no_challenge(client: httpx.AsyncClient) -> None:
    tokens = await join(client)
    response = await client.delete("/sessions/nope", headers=bearer(tokens["access_token"]))
    body = {"error": "not_found", "error_description": "No such session."}
    assert_answer(response, 404, body, None)


@pytest.fixture
async def throttled(
    make_settings: Callable[..., Settings], hasher: PasswordHasher
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(make_settings(rate_limit_requests="1/minute"), hasher)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app.state.asgi, client=("203.0.113.7", 5555))
        async with httpx.AsyncClient(transport=transport, base_url="http://tollgate.test") as c:
            yield c


async def test_too_many_requests_says_when_to_retry(throttled: httpx.AsyncClient) -> None:
    client = throttled
    await client.post("/login", json={"username": "minsu", "password": "nope"})
    throttled = await client.post("/login", json={"username": "minsu", "password": "nope"})
    assert throttled.status_code == 429
    assert throttled.json()["error"] == "too_many_requests"
    assert 0 < int(throttled.headers["retry-after"]) <= 60
    assert throttled.json()["error_description"] == (
        f"Too many attempts; try again in {throttled.headers['retry-after']} seconds."
    )
    assert "www-authenticate" not in throttled.headers
    # The token endpoint keeps 429: only 401 and 422 become 400 there.
    grant = "grant_type=password&username=minsu&password=nope"
    on_token_endpoint = await client.post("/auth", content=grant, headers=FORM)
    assert on_token_endpoint.status_code == 429
    assert "retry-after" in on_token_endpoint.headers


async def test_database_gone_is_503_retry_after_5(app: FastAPI, client: httpx.AsyncClient) -> None:
    await app.state.services.stores.close()
    response = await client.get("/health")
    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"
    assert response.headers["retry-after"] == "5"
    assert "www-authenticate" not in response.headers


async def test_any_route_registered_as_a_token_endpoint_follows_rfc_6749_5_2() -> None:
    app = FastAPI()
    errors.install(app)

    async def refuse(kind: str, n: int) -> None:
        raise {"grant": InvalidGrant(), "client": InvalidClient()}[kind]

    app.router.add_api_route(
        "/token", refuse, methods=["POST"], route_class_override=TokenEndpointRoute
    )
    app.router.add_api_route("/plain", refuse, methods=["POST"])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        grant = await client.post("/token?kind=grant&n=1")
        assert (grant.status_code, grant.json()["error"]) == (400, "invalid_grant")
        assert "www-authenticate" not in grant.headers
        assert (await client.post("/plain?kind=grant&n=1")).status_code == 401
        refused = await client.post("/token?kind=client&n=1")
        assert (refused.status_code, refused.json()["error"]) == (401, "invalid_client")
        # Validation errors too: 400 without the fields a JSON route's 422 lists.
        invalid = await client.post("/token?kind=grant&n=x")
        assert invalid.status_code == 400
        assert set(invalid.json()) == {"error", "error_description"}
        assert (await client.post("/plain?kind=grant&n=x")).status_code == 422
