"""RFC 8414 metadata, RFC 7009 revocation and RFC 7662 introspection, in-process."""

import base64
import hashlib
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tests.conftest import ISSUER, bearer, join
from tests.support.db import rows
from tollgate.services.clients import NewClient
from tollgate.store.schema import AuditEventRow, ClientRow


@pytest.fixture
async def registered(app: FastAPI) -> NewClient:
    services = app.state.services
    client: NewClient = await services.clients.register("board")
    return client


def basic(client: NewClient, secret: str | None = None) -> dict[str, str]:
    raw = f"{client.client_id}:{secret or client.client_secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


async def test_client_secrets_are_stored_only_as_sha256(
    app: FastAPI, registered: NewClient
) -> None:
    # 256 random bits, base64url (RFC 4648 §5) without padding.
    secret = registered.client_secret
    assert len(base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))) == 32
    async with rows(app.state.services) as db:
        row = (await db.execute(select(ClientRow))).scalar_one()
        stored = [str(v) for v in (await db.execute(select(ClientRow.__table__))).one()]
    assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert not any(secret in value for value in stored)  # not in any column


@pytest.mark.parametrize(
    "path", ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"]
)
async def test_metadata(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    meta = response.json()
    assert meta["issuer"] == ISSUER
    assert meta["token_endpoint"] == f"{ISSUER}/auth"
    assert meta["jwks_uri"] == f"{ISSUER}/.well-known/jwks.json"
    assert meta["revocation_endpoint"] == f"{ISSUER}/revoke"
    assert meta["introspection_endpoint"] == f"{ISSUER}/introspect"
    assert set(meta["grant_types_supported"]) == {
        "authorization_code",
        "refresh_token",
        "client_credentials",
        "password",
    }
    assert "client_secret_basic" in meta["introspection_endpoint_auth_methods_supported"]


async def introspect(
    client: httpx.AsyncClient, registered: NewClient, token: str, **extra: str
) -> dict[str, Any]:
    response = await client.post(
        "/introspect", data={"token": token, **extra}, headers=basic(registered)
    )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, Any] = response.json()
    return body


async def test_introspect_access_and_refresh_tokens(
    client: httpx.AsyncClient, registered: NewClient
) -> None:
    tokens = await join(client, "Minsu")
    access = await introspect(client, registered, tokens["access_token"])
    assert access["active"] is True
    assert access["token_type"] == "Bearer"
    assert access["username"] == "Minsu"
    assert access["sub"] == tokens["user"]["id"]
    assert access["scope"] == "profile"
    refresh = await introspect(
        client, registered, tokens["refresh_token"], token_type_hint="refresh_token"
    )
    assert refresh["active"] is True
    assert refresh["token_type"] == "refresh_token"
    # A used refresh token is no longer active.
    await client.post("/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert await introspect(client, registered, tokens["refresh_token"]) == {"active": False}


async def test_introspect_inactive_tokens(client: httpx.AsyncClient, registered: NewClient) -> None:
    assert await introspect(client, registered, "garbage") == {"active": False}
    tokens = await join(client)
    await client.post("/logout", headers=bearer(tokens["access_token"]))
    assert await introspect(client, registered, tokens["access_token"]) == {"active": False}


async def test_introspect_client_secret_post(
    client: httpx.AsyncClient, registered: NewClient
) -> None:
    tokens = await join(client)
    response = await client.post(
        "/introspect",
        data={
            "token": tokens["access_token"],
            "client_id": registered.client_id,
            "client_secret": registered.client_secret,
        },
    )
    assert response.json()["active"] is True


@pytest.mark.parametrize("case", ["none", "wrong secret", "unknown client", "garbage basic"])
async def test_introspect_needs_a_registered_client(
    client: httpx.AsyncClient, registered: NewClient, case: str
) -> None:
    headers = {
        "none": {},
        "wrong secret": basic(registered, "nope"),
        "unknown client": {"Authorization": "Basic " + base64.b64encode(b"x:y").decode()},
        "garbage basic": {"Authorization": "Basic !!!"},
    }[case]
    response = await client.post("/introspect", data={"token": "t"}, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    challenge = response.headers["www-authenticate"]
    assert 'Bearer realm="tollgate"' in challenge
    assert 'Basic realm="tollgate"' in challenge


async def test_revoke_refresh_token_ends_the_session(client: httpx.AsyncClient) -> None:
    tokens = await join(client)
    response = await client.post(
        "/revoke", data={"token": tokens["refresh_token"], "token_type_hint": "refresh_token"}
    )
    assert response.status_code == 200
    assert (await client.get("/me", headers=bearer(tokens["access_token"]))).status_code == 401
    refused = await client.post("/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refused.status_code == 401


async def test_revoke_access_token_ends_the_session(client: httpx.AsyncClient) -> None:
    tokens = await join(client)
    response = await client.post("/revoke", json={"token": tokens["access_token"]})
    assert response.status_code == 200
    assert (await client.get("/auth", headers=bearer(tokens["access_token"]))).status_code == 401


async def test_revocation_is_in_the_audit_trail(client: httpx.AsyncClient, app: FastAPI) -> None:
    tokens = await join(client)
    sid = jwt.decode(tokens["access_token"], options={"verify_signature": False})["sid"]
    response = await client.post(
        "/revoke",
        data={"token": tokens["refresh_token"]},
        headers={"User-Agent": "revoker/1.0"},
    )
    assert response.status_code == 200
    await client.post("/revoke", data={"token": tokens["refresh_token"]})  # already ended
    async with rows(app.state.services) as db:
        events = (
            await db.scalars(select(AuditEventRow).where(AuditEventRow.event == "revoked"))
        ).all()
    assert len(events) == 1  # once: the second call ended nothing
    (event,) = events
    assert str(event.session_id) == sid
    assert str(event.user_id) == tokens["user"]["id"]
    assert event.ip == "203.0.113.7"
    assert event.user_agent == "revoker/1.0"


async def test_revoke_unknown_token_is_200(client: httpx.AsyncClient) -> None:
    assert (await client.post("/revoke", data={"token": "whatever"})).status_code == 200


async def test_revoke_needs_a_token(client: httpx.AsyncClient) -> None:
    response = await client.post("/revoke", data={})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_revoke_with_wrong_client_credentials_is_401(
    client: httpx.AsyncClient, registered: NewClient
) -> None:
    tokens = await join(client)
    response = await client.post(
        "/revoke", data={"token": tokens["refresh_token"]}, headers=basic(registered, "bad")
    )
    assert response.status_code == 401
    assert (await client.get("/me", headers=bearer(tokens["access_token"]))).status_code == 200
