"""Brute force: per account+address, per address, per account (lockout), and floods."""

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import PASSWORD, bearer, join
from tollgate.app import create_app
from tollgate.services.passwords import PasswordHasher
from tollgate.settings import Settings

WRONG = "wrong-wrong-wrong"


@pytest.fixture
def limited(make_settings: Callable[..., Settings], hasher: PasswordHasher) -> Callable[..., Any]:
    """An app with the given limits, and clients coming from chosen addresses."""

    class Limited:
        def __init__(self, **limits: Any) -> None:
            self.app: FastAPI = create_app(make_settings(**limits), hasher)

        async def __aenter__(self) -> "Limited":
            self._lifespan = self.app.router.lifespan_context(self.app)
            await self._lifespan.__aenter__()
            return self

        async def __aexit__(self, *exc: object) -> None:
            await self._lifespan.__aexit__(*exc)

        def client(self, ip: str = "198.51.100.1") -> httpx.AsyncClient:
            transport = httpx.ASGITransport(app=self.app, client=(ip, 1234))
            return httpx.AsyncClient(transport=transport, base_url="http://tollgate.test")

    return Limited


async def login(http: httpx.AsyncClient, name: str, password: str) -> httpx.Response:
    return await http.post("/login", json={"username": name, "password": password})


async def test_failures_per_account_and_address(limited: Callable[..., Any]) -> None:
    async with limited(rate_limit_login_failures_account_ip="3/minute") as server:
        async with server.client() as http, server.client("198.51.100.2") as elsewhere:
            await join(http)
            for _ in range(3):
                assert (await login(http, "minsu", WRONG)).status_code == 401
            throttled = await login(http, "minsu", PASSWORD)  # even the right password waits
            assert throttled.status_code == 429
            assert int(throttled.headers["retry-after"]) > 0
            assert throttled.json()["error"] == "too_many_requests"
            # Another address is not slowed down by this one's failures.
            assert (await login(elsewhere, "minsu", PASSWORD)).status_code == 200


VOLATILE = {"date", "content-length", "x-request-id", "retry-after"}


def assert_alike(existing: httpx.Response, unknown: httpx.Response) -> None:
    """The same answer but for the seconds to wait, which may differ by a tick."""
    assert existing.status_code == unknown.status_code == 429
    waits = [int(r.headers["retry-after"]) for r in (existing, unknown)]
    assert abs(waits[0] - waits[1]) <= 2, waits
    bodies = [r.json() for r in (existing, unknown)]
    for body, wait in zip(bodies, waits, strict=True):
        assert body["error_description"] == f"Too many attempts; try again in {wait} seconds."
        body.pop("error_description")
    assert bodies[0] == bodies[1] == {"error": "too_many_requests"}
    assert {k: v for k, v in existing.headers.items() if k not in VOLATILE} == {
        k: v for k, v in unknown.headers.items() if k not in VOLATILE
    }


async def test_throttled_answers_do_not_reveal_the_account(limited: Callable[..., Any]) -> None:
    async with limited(rate_limit_login_failures_account_ip="2/minute") as server:
        async with server.client() as http:
            await join(http)
            answers = []
            for name in ("minsu", "nobody-here"):
                for _ in range(2):
                    assert (await login(http, name, WRONG)).status_code == 401
                answers.append(await login(http, name, WRONG))
            assert_alike(*answers)
            assert 0 < int(answers[0].headers["retry-after"]) <= 60  # a per-minute limit


async def test_locked_answers_do_not_reveal_the_account(limited: Callable[..., Any]) -> None:
    """The account lockout counts the name tried: an unknown name locks the same way."""
    async with limited(account_lockout_failures=3) as server:
        async with server.client("203.0.113.50") as home:
            await join(home)
        answers = []
        for name in ("minsu", "nobody-here"):
            for i in range(3):  # spread over addresses: only the per-account count fills
                async with server.client(f"192.0.2.{i + 1}") as attacker:
                    assert (await login(attacker, name, WRONG)).status_code == 401
            async with server.client("192.0.2.99") as attacker:
                answers.append(await login(attacker, name, WRONG))
        assert_alike(*answers)
        assert int(answers[0].headers["retry-after"]) > 3600  # locked for the day's window


async def test_failures_per_address(limited: Callable[..., Any]) -> None:
    async with limited(rate_limit_login_failures_ip="4/minute") as server:
        async with server.client() as http, server.client("198.51.100.9") as other:
            for i in range(4):
                assert (await login(http, f"user{i}", WRONG)).status_code == 401
            assert (await login(http, "someone-else", WRONG)).status_code == 429
            assert (await login(other, "someone-else", WRONG)).status_code == 401


async def test_lockout_spares_addresses_the_user_logged_in_from(
    limited: Callable[..., Any],
) -> None:
    async with limited(account_lockout_failures=3) as server:
        async with server.client("203.0.113.50") as home:
            await join(home)  # sign-up counts as logging in from home
        for i in range(3):  # an attacker spread over three addresses
            async with server.client(f"192.0.2.{i + 1}") as attacker:
                assert (await login(attacker, "minsu", WRONG)).status_code == 401
        async with server.client("192.0.2.99") as attacker:
            assert (await login(attacker, "minsu", PASSWORD)).status_code == 429
        async with server.client("203.0.113.50") as home:
            assert (await login(home, "minsu", PASSWORD)).status_code == 200
        events = [e.event for e in await server.app.state.services.audit.events()]
        assert events.count("login_failed") == 3
        assert "account_locked" in events


async def test_join_and_refresh_floods(limited: Callable[..., Any]) -> None:
    async with limited(rate_limit_join="2/minute", rate_limit_requests="3/minute") as server:
        async with server.client() as http:
            first = await join(http, "first")
            await join(http, "second")
            flood = await http.post("/join", json={"username": "third", "password": PASSWORD})
            assert flood.status_code == 429
            token = first["refresh_token"]
            for _ in range(3):
                response = await http.post("/refresh", json={"refresh_token": token})
                assert response.status_code == 200
                token = response.json()["refresh_token"]
            assert (await http.post("/refresh", json={"refresh_token": token})).status_code == 429
            auth = await http.post(
                "/auth", data={"grant_type": "refresh_token", "refresh_token": token}
            )
            assert auth.status_code == 429


async def test_requests_limit_covers_token_routes_but_not_the_gateway_check(
    limited: Callable[..., Any],
) -> None:
    """RATE_LIMIT_REQUESTS counts POST /login, /auth and /refresh together per address;
    GET /auth, which a gateway calls before every request, is never limited (with the
    auth cache off, every one of them takes the full route)."""
    async with limited(rate_limit_requests="3/minute", auth_cache_seconds=0) as server:
        async with server.client() as http, server.client("198.51.100.2") as elsewhere:
            tokens = await join(http)  # /join has its own limit
            assert (await login(http, "minsu", PASSWORD)).status_code == 200
            grant = {"grant_type": "password", "username": "minsu", "password": PASSWORD}
            assert (await http.post("/auth", data=grant)).status_code == 200
            refresh = {"refresh_token": tokens["refresh_token"]}
            assert (await http.post("/refresh", json=refresh)).status_code == 200
            # The fourth, on any of the three routes, is one too many.
            for response in (
                await login(http, "minsu", PASSWORD),
                await http.post("/auth", data=grant),
                await http.post("/refresh", json=refresh),
            ):
                assert response.status_code == 429, response.text
            assert (await login(elsewhere, "minsu", PASSWORD)).status_code == 200
            for _ in range(30):
                checked = await http.get("/auth", headers=bearer(tokens["access_token"]))
                assert checked.status_code == 200


async def test_limits_can_be_turned_off(limited: Callable[..., Any]) -> None:
    async with limited(
        rate_limit_enabled=False,
        rate_limit_login_failures_account_ip="1/minute",
        rate_limit_join="1/minute",
    ) as server:
        async with server.client() as http:
            await join(http, "one")
            await join(http, "two")
            for _ in range(5):
                assert (await login(http, "one", WRONG)).status_code == 401
