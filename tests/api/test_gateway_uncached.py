"""GET /auth for a token not seen before (every request a new user's, as at scale, or the
token cache off) is answered in front of the app, with the full route's answer."""

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.api.test_gateway import SAME
from tests.conftest import bearer, join
from tollgate.app import create_app
from tollgate.services.passwords import PasswordHasher


@pytest.fixture
async def uncached(
    make_settings: Callable[..., Any], hasher: PasswordHasher
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    application = create_app(make_settings(auth_cache_seconds=0), hasher)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application.state.asgi)
        async with httpx.AsyncClient(transport=transport, base_url="http://tollgate.test") as c:
            yield application, c


async def test_a_first_check_is_the_full_routes_answer(
    uncached: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = uncached
    tokens = await join(client, "김민수")
    calls = []
    authorize = app.state.services.sessions.authorize

    async def counted(token: str, required_scope: str = "") -> Any:
        calls.append(required_scope)
        return await authorize(token, required_scope)

    app.state.services.sessions.authorize = counted
    fast = await client.get("/auth", headers=bearer(tokens["access_token"]))
    # `?scope=` always takes the full route, which checks the scope too.
    full = await client.get("/auth?scope=profile", headers=bearer(tokens["access_token"]))
    # One check each: the first in front, the second by the route (which checks the scope
    # itself, after a bound token's proof).
    assert calls == ["", ""]
    assert fast.status_code == full.status_code == 200
    assert fast.json() == full.json()
    for header in SAME:
        assert fast.headers[header] == full.headers[header], header


async def test_refusals_take_the_full_route(uncached: tuple[FastAPI, httpx.AsyncClient]) -> None:
    _, client = uncached
    tokens = await join(client)
    assert (await client.post("/logout", headers=bearer(tokens["access_token"]))).status_code == 204
    refused = await client.get("/auth", headers=bearer(tokens["access_token"]))
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_token"
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    forged = await client.get("/auth", headers=bearer("e30.e30.e30"))
    assert forged.status_code == 401


async def test_a_second_check_is_answered_from_the_cache(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    # The lean path and the services share one cache: once a token is verified, the
    # next check is answered without verifying or reading the session again.
    tokens = await join(client)
    calls = []
    authorize = app.state.services.sessions.authorize

    async def counted(token: str, required_scope: str = "") -> Any:
        calls.append(token)
        return await authorize(token, required_scope)

    app.state.services.sessions.authorize = counted
    for _ in range(3):
        answer = await client.get("/auth", headers=bearer(tokens["access_token"]))
        assert answer.status_code == 200
    assert len(calls) == 1
