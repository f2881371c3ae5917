"""What the OpenID Connect route tests share: the app on a clock they move, a user, an app."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI

from tests.conftest import PASSWORD
from tests.support.codes import IssuedCode, issue_code, register
from tollgate.app import create_app
from tollgate.clock import MovableClock
from tollgate.services.clients import NewClient
from tollgate.services.container import Services
from tollgate.services.passwords import PasswordHasher
from tollgate.settings import Settings
from tollgate.store.records import AuditQuery

SHOP_CALLBACK = "https://shop.example/callback"


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
async def app(
    settings: Settings, hasher: PasswordHasher, clock: MovableClock
) -> AsyncIterator[FastAPI]:
    application = create_app(settings, hasher, clock)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
def services(app: FastAPI) -> Services:
    built: Services = app.state.services
    return built


@pytest.fixture
async def user(client: httpx.AsyncClient) -> dict[str, Any]:
    body = {"username": "Minsu", "password": PASSWORD, "email": "minsu@example.org"}
    response = await client.post("/join", json=body)
    assert response.status_code == 201, response.text
    joined: dict[str, Any] = response.json()["user"]
    return joined


@pytest.fixture
async def shop(services: Services) -> NewClient:
    return await register(services, "shop", scope="openid profile email")


def basic(client_id: str, secret: str | None) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def code_form(issued: IssuedCode, **overrides: str) -> dict[str, str]:
    form = {
        "grant_type": "authorization_code",
        "code": issued.code,
        "redirect_uri": issued.record.redirect_uri,
        "code_verifier": issued.pkce.verifier,
    }
    form.update(overrides)
    return {k: v for k, v in form.items() if v != ""}


async def shop_code(services: Services, shop: NewClient, user: dict[str, Any]) -> IssuedCode:
    return await issue_code(services, shop.client_id, user["id"], redirect_uri=SHOP_CALLBACK)


async def exchange(
    client: httpx.AsyncClient, issued: IssuedCode, app: NewClient, **overrides: str
) -> httpx.Response:
    return await client.post(
        "/auth",
        data=code_form(issued, **overrides),
        headers=basic(app.client_id, app.client_secret),
    )


def unverified(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


async def events(services: Services) -> list[str]:
    return [e.event for e in await services.audit.events(AuditQuery(limit=50))]
