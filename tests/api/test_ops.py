"""Readiness, metrics and request ids, in-process."""

import sqlite3
from collections.abc import Callable

import httpx
from fastapi import FastAPI

from tests.conftest import PASSWORD, join
from tollgate.app import create_app
from tollgate.services.passwords import PasswordHasher
from tollgate.settings import Settings


async def test_ready_when_schema_is_current(client: httpx.AsyncClient) -> None:
    response = await client.get("/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


async def test_not_ready_when_schema_is_behind(client: httpx.AsyncClient, app: FastAPI) -> None:
    database = app.state.services.settings.database_url.removeprefix("sqlite+aiosqlite:///")
    with sqlite3.connect(database) as db:
        db.execute("UPDATE alembic_version SET version_num = '0001'")
    response = await client.get("/ready")
    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"
    assert "0001" in response.json()["error_description"]
    assert (await client.get("/health")).status_code == 200  # alive, just not ready


async def test_metrics_count_security_events_and_latency(client: httpx.AsyncClient) -> None:
    tokens = await join(client)
    await client.post("/login", json={"username": "minsu", "password": PASSWORD})
    await client.post("/login", json={"username": "minsu", "password": "wrong-wrong-1"})
    await client.post("/refresh", json={"refresh_token": tokens["refresh_token"]})
    await client.post("/refresh", json={"refresh_token": "garbage"})
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text_body = response.text
    for line in (
        'tollgate_events_total{event="login_succeeded"} 1.0',
        'tollgate_events_total{event="login_failed"} 1.0',
        'tollgate_events_total{event="refresh_rotated"} 1.0',
        'tollgate_events_total{event="refresh_refused"} 1.0',
        'tollgate_events_total{event="joined"} 1.0',
    ):
        assert line in text_body, line
    histogram = "tollgate_http_request_duration_seconds_count"
    assert f'{histogram}{{method="POST",route="/login",status="200"}} 1.0' in text_body
    # SQLite: two connections for the life of the process, the store thread's and the
    # event loop's.
    assert "tollgate_db_connections_in_use 2.0" in text_body


async def test_request_ids(client: httpx.AsyncClient) -> None:
    generated = await client.get("/health")
    assert len(generated.headers["x-request-id"]) == 32
    kept = await client.get("/health", headers={"X-Request-ID": "edge-1234.abc"})
    assert kept.headers["x-request-id"] == "edge-1234.abc"
    replaced = await client.get("/health", headers={"X-Request-ID": "no spaces <script>"})
    assert replaced.headers["x-request-id"] != "no spaces <script>"


async def test_metrics_can_be_turned_off(
    make_settings: Callable[..., Settings], hasher: PasswordHasher
) -> None:
    app = create_app(make_settings(metrics_enabled=False), hasher)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app.state.asgi)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            await join(http)
            response = await http.get("/metrics")
            assert response.status_code == 404
            assert response.json()["error"] == "not_found"
            assert "tollgate_" not in response.text
            assert (await http.get("/health")).status_code == 200
