"""Cookie mode, CSRF, CORS and the security headers (issue: browsers)."""

from collections.abc import AsyncIterator, Callable
from http.cookies import SimpleCookie
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI

from tests.conftest import PASSWORD, bearer
from tollgate.app import create_app
from tollgate.services.passwords import PasswordHasher
from tollgate.settings import Settings

REFRESH = "__Host-tollgate-refresh"
CSRF = "__Host-tollgate-csrf"


@pytest.fixture
def serve(make_settings: Callable[..., Settings], hasher: PasswordHasher) -> Callable[..., Any]:
    class Served:
        def __init__(self, base_url: str = "https://tollgate.test", **settings: Any) -> None:
            self.app: FastAPI = create_app(make_settings(**settings), hasher)
            self.base_url = base_url

        async def __aenter__(self) -> httpx.AsyncClient:
            self._lifespan = self.app.router.lifespan_context(self.app)
            await self._lifespan.__aenter__()
            transport = httpx.ASGITransport(app=self.app)
            self._client = httpx.AsyncClient(transport=transport, base_url=self.base_url)
            return self._client

        async def __aexit__(self, *exc: object) -> None:
            await self._client.aclose()
            await self._lifespan.__aexit__(*exc)

    return Served


def set_cookies(response: httpx.Response) -> dict[str, Any]:
    jar: dict[str, Any] = {}
    for header in response.headers.get_list("set-cookie"):
        parsed: SimpleCookie = SimpleCookie()
        parsed.load(header)
        for name, morsel in parsed.items():
            jar[name] = (morsel, header)
    return jar


@pytest.fixture
async def cookie_client(serve: Callable[..., Any]) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(cookie_mode=True, cors_origins="https://app.example") as http:
        yield http


async def signed_up(http: httpx.AsyncClient) -> dict[str, Any]:
    response = await http.post("/join", json={"username": "minsu", "password": PASSWORD})
    assert response.status_code == 201
    body: dict[str, Any] = response.json()
    body["_response"] = response
    return body


async def test_refresh_token_lives_only_in_a_host_cookie(cookie_client: httpx.AsyncClient) -> None:
    body = await signed_up(cookie_client)
    assert "refresh_token" not in body
    assert body["csrf_token"]
    cookies = set_cookies(body["_response"])
    morsel, raw = cookies[REFRESH]
    attributes = raw.lower()
    assert "httponly" in attributes
    assert "secure" in attributes
    assert "samesite=strict" in attributes
    assert morsel["path"] == "/"
    assert not morsel["domain"]
    # Max-Age is the refresh token's lifetime: the default REFRESH_TTL, to the second.
    assert int(morsel["max-age"]) == body["refresh_expires_in"] == 1_209_600
    claims = jwt.decode(morsel.value, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 1_209_600
    csrf_morsel, csrf_raw = cookies[CSRF]
    assert "httponly" not in csrf_raw.lower()
    assert csrf_morsel.value == body["csrf_token"]
    assert int(csrf_morsel["max-age"]) == 1_209_600


async def test_cookie_max_age_follows_the_session_limit(serve: Callable[..., Any]) -> None:
    """Near the end of the session (SESSION_MAX_AGE), the token and its cookie live only
    as long as the session has left, not a full REFRESH_TTL."""
    async with serve(cookie_mode=True, session_max_age=100, refresh_ttl=1000) as http:
        body = await signed_up(http)
    morsel, _ = set_cookies(body["_response"])[REFRESH]
    assert int(morsel["max-age"]) == body["refresh_expires_in"] == 100


async def test_cookie_refresh_with_csrf(cookie_client: httpx.AsyncClient) -> None:
    body = await signed_up(cookie_client)
    before = cookie_client.cookies.get(REFRESH)
    response = await cookie_client.post(
        "/refresh",
        json={},
        headers={"X-CSRF-Token": body["csrf_token"], "Origin": "https://tollgate.test"},
    )
    assert response.status_code == 200, response.text
    assert "refresh_token" not in response.json()
    assert cookie_client.cookies.get(REFRESH) != before
    me = await cookie_client.get("/me", headers=bearer(response.json()["access_token"]))
    assert me.status_code == 200


@pytest.mark.parametrize(
    ("content", "headers"),
    [
        ("{}", {"Content-Type": "application/json"}),  # no CSRF header
        ("{}", {"Content-Type": "application/json", "X-CSRF-Token": "guess"}),
        ("a=b", {"Content-Type": "application/x-www-form-urlencoded", "X-CSRF-Token": "@"}),
        ("hello", {"Content-Type": "text/plain", "X-CSRF-Token": "@"}),
        (
            "{}",
            {
                "Content-Type": "application/json",
                "X-CSRF-Token": "@",
                "Origin": "https://evil.example",
            },
        ),
    ],
)
async def test_cross_site_refreshes_are_refused(
    cookie_client: httpx.AsyncClient, content: str, headers: dict[str, str]
) -> None:
    body = await signed_up(cookie_client)
    headers = {k: (body["csrf_token"] if v == "@" else v) for k, v in headers.items()}
    response = await cookie_client.post("/refresh", content=content, headers=headers)
    assert response.status_code == 403
    assert response.json()["error"] == "access_denied"


async def test_body_refresh_token_is_refused_in_cookie_mode(
    cookie_client: httpx.AsyncClient,
) -> None:
    body = await signed_up(cookie_client)
    response = await cookie_client.post(
        "/refresh", json={"refresh_token": "x.y.z"}, headers={"X-CSRF-Token": body["csrf_token"]}
    )
    assert response.status_code == 400
    assert "cookie" in response.json()["error_description"]


async def test_no_cookie_means_log_in_again(cookie_client: httpx.AsyncClient) -> None:
    response = await cookie_client.post("/refresh", json={}, headers={"X-CSRF-Token": "x"})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_grant"


async def test_logout_clears_the_cookies(cookie_client: httpx.AsyncClient) -> None:
    body = await signed_up(cookie_client)
    response = await cookie_client.post("/logout", headers=bearer(body["access_token"]))
    assert response.status_code == 204
    cleared = set_cookies(response)
    assert int(cleared[REFRESH][0]["max-age"]) == 0
    assert int(cleared[CSRF][0]["max-age"]) == 0


async def test_deleting_the_account_clears_the_cookies(cookie_client: httpx.AsyncClient) -> None:
    body = await signed_up(cookie_client)
    response = await cookie_client.request(
        "DELETE", "/me", json={"password": PASSWORD}, headers=bearer(body["access_token"])
    )
    assert response.status_code == 204
    cleared = set_cookies(response)
    assert int(cleared[REFRESH][0]["max-age"]) == 0
    assert int(cleared[CSRF][0]["max-age"]) == 0


async def test_cors_allowlist(serve: Callable[..., Any]) -> None:
    async with serve(cors_origins="https://app.example, https://admin.example") as http:
        preflight = await http.options(
            "/login",
            headers={
                "Origin": "https://app.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://app.example"
        assert preflight.headers["access-control-allow-credentials"] == "true"
        simple = await http.get("/health", headers={"Origin": "https://admin.example"})
        assert simple.headers["access-control-allow-origin"] == "https://admin.example"
        stranger = await http.get("/health", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in stranger.headers
        evil_preflight = await http.options(
            "/login",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert "access-control-allow-origin" not in evil_preflight.headers


async def test_cors_wildcard_never_allows_credentials(serve: Callable[..., Any]) -> None:
    async with serve(cors_origins="*") as http:
        response = await http.get("/health", headers={"Origin": "https://anyone.example"})
        assert response.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in response.headers


async def test_no_cors_headers_by_default(client: httpx.AsyncClient) -> None:
    response = await client.get("/health", headers={"Origin": "https://app.example"})
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("GET", "/health", {}),
        ("GET", "/nope", {}),
        ("GET", "/me", {}),
        ("POST", "/login", {"content": b"x" * 70_000}),
        ("GET", "/.well-known/jwks.json", {}),
    ],
)
async def test_security_headers_everywhere(
    serve: Callable[..., Any], method: str, path: str, kwargs: dict[str, Any]
) -> None:
    for base, hsts in (("https://tollgate.test", True), ("http://tollgate.test", False)):
        async with serve(base_url=base) as http:
            response = await http.request(method, path, **kwargs)
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["referrer-policy"] == "no-referrer"
            assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
            assert ("strict-transport-security" in response.headers) is hsts
