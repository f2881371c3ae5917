"""The cached GET /auth answer is the full route's answer, and revocation still holds."""

import httpx
from fastapi import FastAPI

from tests.conftest import bearer, join

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


async def test_revocation_applies_at_once(client: httpx.AsyncClient) -> None:
    tokens = await join(client)
    for _ in range(2):
        assert (
            await client.get("/auth", headers=bearer(tokens["access_token"]))
        ).status_code == 200
    await client.post("/logout", headers=bearer(tokens["access_token"]))
    assert (await client.get("/auth", headers=bearer(tokens["access_token"]))).status_code == 401


async def test_password_change_and_reuse_also_clear_it(client: httpx.AsyncClient) -> None:
    first = await join(client)
    second = (
        await client.post(
            "/login", json={"username": "minsu", "password": "violet-harbor-kettle-42"}
        )
    ).json()
    await client.get("/auth", headers=bearer(second["access_token"]))
    response = await client.post(
        "/password",
        json={
            "current_password": "violet-harbor-kettle-42",
            "new_password": "amber-glacier-window-97",
        },
        headers=bearer(first["access_token"]),
    )
    assert response.status_code == 204
    assert (await client.get("/auth", headers=bearer(second["access_token"]))).status_code == 401


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
