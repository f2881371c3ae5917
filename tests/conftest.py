"""Shared fixtures: a real SQLite database per test and the app served in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI

from tests.support.postgres import PostgresServer
from tests.support.smtp import SmtpSink
from tollgate.app import create_app
from tollgate.services.passwords import PasswordHasher
from tollgate.settings import Settings

PASSWORD = "violet-harbor-kettle-42"
OTHER_PASSWORD = "amber-glacier-window-97"
ISSUER = "http://tollgate.test"
# How long a test's HTTP call to a real server may wait when it names no timeout. httpx's
# default is 5 s, and a login (an argon2 hash) through a replica took longer once while
# three whole suites shared the two cores (load 12): such a test failed on the machine's
# load, not on Tollgate's answer. A test that expects a wait to end sets its own timeout.
HTTP_TIMEOUT_SECONDS = 60.0


def pytest_configure(config: pytest.Config) -> None:
    # httpx's functions and clients copy this object as their default timeout when called.
    default = httpx._config.DEFAULT_TIMEOUT_CONFIG
    default.connect = default.read = default.write = default.pool = HTTP_TIMEOUT_SECONDS


@pytest.fixture(scope="session")
def hasher() -> PasswordHasher:
    """The real OWASP-parameter hasher, built once (it hashes a dummy password at start)."""
    return PasswordHasher()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One real PostgreSQL server for the whole run; each test gets its own database."""
    server = PostgresServer()
    server.start()
    yield server
    server.remove()


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpSink]:
    """A real SMTP server process (aiosmtpd) that keeps every mail it receives (issue 17)."""
    sink = SmtpSink(tmp_path / "mail").start()
    yield sink
    sink.stop()


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite by default; suites that run on both databases override this fixture."""
    return f"sqlite+aiosqlite:///{tmp_path / 'tollgate.db'}"


@pytest.fixture
def make_settings(database_url: str) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {"database_url": database_url, "issuer": ISSUER}
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
async def app(settings: Settings, hasher: PasswordHasher) -> AsyncIterator[FastAPI]:
    application = create_app(settings, hasher)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    # The app as servers run it: with the cached GET /auth fast path in front.
    transport = httpx.ASGITransport(app=app.state.asgi, client=("203.0.113.7", 5555))
    async with httpx.AsyncClient(transport=transport, base_url="http://tollgate.test") as c:
        yield c


async def join(
    client: httpx.AsyncClient, username: str = "minsu", password: str = PASSWORD
) -> dict[str, Any]:
    response = await client.post("/join", json={"username": username, "password": password})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def token_claims(token: str) -> dict[str, Any]:
    """A JWT's payload, unverified: for reading what a token the server issued says."""
    decoded: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return decoded


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
