"""What the Shared Signals route tests share: the app, a receiver client subscribed to a
poll stream, and a user's sessions."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI

from tests.conftest import ISSUER, PASSWORD
from tests.support.codes import register
from tests.support.ssf_receiver import Receiver
from tollgate.app import create_app
from tollgate.services.container import Services
from tollgate.services.passwords import PasswordHasher
from tollgate.settings import Settings


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    # Long polls end soon in tests that do not wait for them.
    return make_settings(ssf_long_poll_seconds=2.0, ssf_poll_check_interval=0.1)


@pytest.fixture
async def app(settings: Settings, hasher: PasswordHasher) -> AsyncIterator[FastAPI]:
    application = create_app(settings, hasher)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
def services(app: FastAPI) -> Services:
    built: Services = app.state.services
    return built


@pytest.fixture
async def receiver(client: httpx.AsyncClient, services: Services) -> Receiver:
    board = await register(services, "board", redirect_uris=(), grant_types=("client_credentials",))
    assert board.client_secret is not None
    subscribed = Receiver(client, board.client_id, board.client_secret, ISSUER)
    await subscribed.subscribe()
    return subscribed


async def log_in(client: httpx.AsyncClient, username: str = "minsu") -> dict[str, Any]:
    response = await client.post("/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def sid_of(tokens: dict[str, Any]) -> str:
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    sid: str = claims["sid"]
    return sid


def sub_of(tokens: dict[str, Any]) -> str:
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    sub: str = claims["sub"]
    return sub
