"""The cached GET /auth answer is the full route's answer, and revocation still holds."""

from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import OTHER_PASSWORD, PASSWORD, bearer, join
from tollgate.settings import Settings


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    # Entries live a minute here, so a 401 after a revocation can only come from the
    # revocation clearing the cache, never from an entry that timed out on its own.
    return make_settings(auth_cache_seconds=60)


SAME = (
    "content-type",
    "cache-control",
    "x-auth-user",
    "x-auth-subject",
    "x-auth-scope",
    "x-content-type-options",
    "referrer-policy",
    "content-security-policy",
)


async def test_cached_answer_equals_the_full_route(client: httpx.AsyncClient, app: FastAPI) -> None:
    tokens = await join(client, "김민수")
    cache = app.state.services.auth_cache
    assert cache.get(tokens["access_token"]) is None
    full = await client.get("/auth", headers=bearer(tokens["access_token"]))
    assert cache.get(tokens["access_token"]) is not None
    fast = await client.get("/auth", headers=bearer(tokens["access_token"]))
    assert fast.status_code == full.status_code == 200
    assert fast.json() == full.json()
    for header in SAME:
        assert fast.headers[header] == full.headers[header], header
    assert fast.headers["x-request-id"] != full.headers["x-request-id"]
    kept = await client.get(
        "/auth", headers={**bearer(tokens["access_token"]), "X-Request-ID": "gw-7"}
    )
    assert kept.headers["x-request-id"] == "gw-7"


async def test_revocation_applies_at_once(client: httpx.AsyncClient, app: FastAPI) -> None:
    tokens = await join(client)
    await cached(client, app, tokens["access_token"])
    await client.post("/logout", headers=bearer(tokens["access_token"]))
    assert (await client.get("/auth", headers=bearer(tokens["access_token"]))).status_code == 401


async def cached(client: httpx.AsyncClient, app: FastAPI, access_token: str) -> None:
    """Put a token in the cache through GET /auth, and check it is there."""
    assert (await client.get("/auth", headers=bearer(access_token))).status_code == 200
    assert app.state.services.auth_cache.get(access_token) is not None


async def test_password_change_and_reuse_also_clear_it(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    first = await join(client)
    second = (await client.post("/login", json={"username": "minsu", "password": PASSWORD})).json()
    await cached(client, app, second["access_token"])
    response = await client.post(
        "/password",
        json={"current_password": PASSWORD, "new_password": OTHER_PASSWORD},
        headers=bearer(first["access_token"]),
    )
    assert response.status_code == 204
    # The cached entry would have answered 200 for another minute: the change cleared it.
    assert (await client.get("/auth", headers=bearer(second["access_token"]))).status_code == 401

    # Refresh-token reuse (theft) ends the session: its cached access token goes too.
    third = (
        await client.post("/login", json={"username": "minsu", "password": OTHER_PASSWORD})
    ).json()
    rotated = (await client.post("/refresh", json={"refresh_token": third["refresh_token"]})).json()
    newest = (
        await client.post("/refresh", json={"refresh_token": rotated["refresh_token"]})
    ).json()
    await cached(client, app, newest["access_token"])
    stolen = await client.post("/refresh", json={"refresh_token": third["refresh_token"]})
    assert stolen.status_code == 401
    assert (await client.get("/auth", headers=bearer(newest["access_token"]))).status_code == 401
    assert (await client.get("/auth", headers=bearer(first["access_token"]))).status_code == 200


async def test_scope_checks_and_browsers_take_the_full_route(client: httpx.AsyncClient) -> None:
    tokens = await join(client)
    await client.get("/auth", headers=bearer(tokens["access_token"]))
    scoped = await client.get("/auth?scope=admin", headers=bearer(tokens["access_token"]))
    assert scoped.status_code == 403
    browser = await client.get(
        "/auth", headers={**bearer(tokens["access_token"]), "Origin": "https://app.example"}
    )
    assert browser.status_code == 200


async def test_metrics_count_cached_answers(client: httpx.AsyncClient) -> None:
    tokens = await join(client)
    for _ in range(3):
        await client.get("/auth", headers=bearer(tokens["access_token"]))
    text = (await client.get("/metrics")).text
    assert (
        'tollgate_http_request_duration_seconds_count{method="GET",route="/auth",status="200"} 3.0'
        in text
    )
