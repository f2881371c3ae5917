"""/userinfo, the discovery documents, client_credentials, and what tells an ID token and
an access token apart (for Tollgate and for tollgate.verify)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.api.oidc.conftest import (
    SHOP_CALLBACK,
    basic,
    events,
    exchange,
    shop_code,
    unverified,
)
from tests.conftest import ISSUER, PASSWORD, bearer
from tests.support.codes import issue_code, register
from tollgate.services.clients import NewClient
from tollgate.services.container import Services
from tollgate.store.records import ScopeDescription
from tollgate.tokens.signing import sign
from tollgate.verify import InvalidToken, Verifier

# API.md, "Other apps sign in with Tollgate": every field the discovery documents carry.
CONTRACT_FIELDS = {
    "authorization_endpoint": f"{ISSUER}/authorize",
    "token_endpoint": f"{ISSUER}/auth",
    "userinfo_endpoint": f"{ISSUER}/userinfo",
    "end_session_endpoint": f"{ISSUER}/end-session",
    "jwks_uri": f"{ISSUER}/.well-known/jwks.json",
    "revocation_endpoint": f"{ISSUER}/revoke",
    "introspection_endpoint": f"{ISSUER}/introspect",
    "response_types_supported": ["code"],
    "code_challenge_methods_supported": ["S256"],
    "subject_types_supported": ["public"],
    "authorization_response_iss_parameter_supported": True,
}


async def app_tokens(
    client: httpx.AsyncClient, services: Services, shop: NewClient, user: dict[str, Any]
) -> dict[str, Any]:
    response = await exchange(client, await shop_code(services, shop, user), shop)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize(
    "path", ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"]
)
async def test_discovery_carries_every_contract_field(client: httpx.AsyncClient, path: str) -> None:
    meta = (await client.get(path)).json()

    assert meta["issuer"] == ISSUER
    for name, value in CONTRACT_FIELDS.items():
        assert meta[name] == value, name
    assert {"authorization_code", "client_credentials", "refresh_token"} <= set(
        meta["grant_types_supported"]
    )
    assert set(meta["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
        "none",
    }
    assert "RS256" in meta["id_token_signing_alg_values_supported"]
    assert "ES256" in meta["id_token_signing_alg_values_supported"]  # the access-token key's
    assert {"openid", "profile", "email", "offline_access"} <= set(meta["scopes_supported"])
    assert {"sub", "preferred_username", "email", "email_verified", "sid", "at_hash"} <= set(
        meta["claims_supported"]
    )
    # Access tokens stay on the configured algorithm; the RS256 key is for ID tokens.
    assert meta["token_signing_alg_values_supported"] == ["ES256"]


async def test_described_scopes_are_advertised(
    client: httpx.AsyncClient, services: Services
) -> None:
    before = (await client.get("/.well-known/openid-configuration")).json()["scopes_supported"]
    assert "notes:read" not in before
    await services.stores.scopes.describe(
        ScopeDescription("notes:read", "Read your notes.", services.clock.now())
    )
    after = (await client.get("/.well-known/openid-configuration")).json()["scopes_supported"]
    assert after == sorted([*before, "notes:read"])


async def test_userinfo_gives_sub_and_the_claims_of_the_granted_scopes(
    client: httpx.AsyncClient, services: Services, shop: NewClient, user: dict[str, Any]
) -> None:
    tokens = await app_tokens(client, services, shop, user)
    for method in ("GET", "POST"):
        response = await client.request(method, "/userinfo", headers=bearer(tokens["access_token"]))
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        assert response.json() == {
            "sub": user["id"],
            "preferred_username": "Minsu",
            "email": "minsu@example.org",
            "email_verified": False,
        }
    only_openid = await issue_code(
        services, shop.client_id, user["id"], redirect_uri=SHOP_CALLBACK, scope="openid"
    )
    narrow = (await exchange(client, only_openid, shop)).json()
    answer = await client.get("/userinfo", headers=bearer(narrow["access_token"]))
    assert answer.json() == {"sub": user["id"]}


async def test_userinfo_refusals_follow_rfc_6750(
    client: httpx.AsyncClient, services: Services, shop: NewClient, user: dict[str, Any]
) -> None:
    missing = await client.get("/userinfo")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    forged = await client.get("/userinfo", headers=bearer("not.a.token"))
    assert forged.status_code == 401
    assert 'error="invalid_token"' in forged.headers["www-authenticate"]
    # A first-party token has no `openid`: 403 insufficient_scope.
    login = await client.post("/login", json={"username": "Minsu", "password": PASSWORD})
    first_party = await client.get("/userinfo", headers=bearer(login.json()["access_token"]))
    assert first_party.status_code == 403
    assert first_party.json()["error"] == "insufficient_scope"
    assert 'scope="openid"' in first_party.headers["www-authenticate"]
    # A revoked session's token is refused, as at /me.
    tokens = await app_tokens(client, services, shop, user)
    ended = await client.post("/logout", headers=bearer(tokens["access_token"]))
    assert ended.status_code == 204
    revoked = await client.get("/userinfo", headers=bearer(tokens["access_token"]))
    assert revoked.status_code == 401


async def test_an_id_token_is_never_an_access_token(
    client: httpx.AsyncClient,
    app: FastAPI,
    services: Services,
    shop: NewClient,
    user: dict[str, Any],
) -> None:
    tokens = await app_tokens(client, services, shop, user)
    id_token = tokens["id_token"]
    for path in ("/me", "/userinfo"):
        assert (await client.get(path, headers=bearer(id_token))).status_code == 401
    verifier = Verifier(ISSUER, "tollgate", async_transport=httpx.ASGITransport(app=app))
    claims = await verifier.verify_async(tokens["access_token"], ["openid"])
    assert claims.raw["client_id"] == shop.client_id
    with pytest.raises(InvalidToken):
        await verifier.verify_async(id_token)


async def test_client_credentials_for_a_service_acting_for_itself(
    client: httpx.AsyncClient, app: FastAPI, services: Services
) -> None:
    machine = await register(
        services,
        "reports",
        redirect_uris=(),
        grant_types=("client_credentials",),
        scope="reports:read reports:write",
    )
    auth = basic(machine.client_id, machine.client_secret)

    everything = await client.post("/auth", data={"grant_type": "client_credentials"}, headers=auth)

    assert everything.status_code == 200, everything.text
    body = everything.json()
    assert "refresh_token" not in body
    assert "id_token" not in body
    assert body["scope"] == "reports:read reports:write"
    claims = unverified(body["access_token"])
    assert (claims["sub"], claims["client_id"]) == (machine.client_id, machine.client_id)
    assert "sid" not in claims
    assert "username" not in claims
    verifier = Verifier(ISSUER, "tollgate", async_transport=httpx.ASGITransport(app=app))
    verified = await verifier.verify_async(body["access_token"], ["reports:read"])
    assert verified.sub == machine.client_id
    assert "client_credentials.issued" in await events(services)
    # No session behind it: Tollgate's own session-checking routes do not take it.
    assert (await client.get("/auth", headers=bearer(body["access_token"]))).status_code == 401

    narrowed = await client.post(
        "/auth", data={"grant_type": "client_credentials", "scope": "reports:read"}, headers=auth
    )
    assert narrowed.json()["scope"] == "reports:read"
    beyond = await client.post(
        "/auth", data={"grant_type": "client_credentials", "scope": "admin"}, headers=auth
    )
    assert (beyond.status_code, beyond.json()["error"]) == (400, "invalid_scope")
    wrong = await client.post(
        "/auth",
        data={"grant_type": "client_credentials"},
        headers=basic(machine.client_id, "wrong"),
    )
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")


async def test_client_credentials_only_for_clients_registered_for_it(
    client: httpx.AsyncClient, services: Services, shop: NewClient
) -> None:
    refused = await client.post(
        "/auth",
        data={"grant_type": "client_credentials"},
        headers=basic(shop.client_id, shop.client_secret),
    )
    assert (refused.status_code, refused.json()["error"]) == (400, "unauthorized_client")
    phone = await register(services, "phone", public=True)
    public = await client.post(
        "/auth", data={"grant_type": "client_credentials", "client_id": phone.client_id}
    )
    assert (public.status_code, public.json()["error"]) == (401, "invalid_client")


async def test_introspection_names_the_app_a_token_was_issued_to(
    client: httpx.AsyncClient, services: Services, shop: NewClient, user: dict[str, Any]
) -> None:
    tokens = await app_tokens(client, services, shop, user)
    resource = await register(services, "resource", redirect_uris=())
    auth = basic(resource.client_id, resource.client_secret)
    for kind in ("access_token", "refresh_token"):
        answer = await client.post("/introspect", data={"token": tokens[kind]}, headers=auth)
        assert answer.json()["active"] is True
        assert answer.json()["client_id"] == shop.client_id


async def test_the_id_token_key_never_signs_an_access_token_we_accept(
    client: httpx.AsyncClient, services: Services, shop: NewClient, user: dict[str, Any]
) -> None:
    """Even an at+jwt with every right claim is refused when the ID-token key signed it."""
    tokens = await app_tokens(client, services, shop, user)
    claims = unverified(tokens["access_token"])
    key = await services.keyring.id_token_signer()
    resigned = sign(claims, key.alg, key.signing_key, key.kid, "at+jwt")
    assert (await client.get("/me", headers=bearer(resigned))).status_code == 401
    assert (await client.get("/userinfo", headers=bearer(resigned))).status_code == 401
