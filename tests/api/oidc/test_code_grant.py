"""The token endpoint for other apps (issue 14) through HTTP: the authorization_code grant
with PKCE and ID tokens, client authentication, code replay, refresh by the right client,
client_credentials. Codes are stored as /authorize stores them (tests/support/codes.py)."""

from __future__ import annotations

import base64
import hashlib
import uuid
from typing import Any

import httpx
import jwt

from tests.api.oidc.conftest import (
    SHOP_CALLBACK,
    basic,
    code_form,
    events,
    exchange,
    shop_code,
    unverified,
)
from tests.conftest import ISSUER, PASSWORD, bearer
from tests.support.codes import issue_code, register
from tollgate.clock import MovableClock
from tollgate.services.clients import NewClient
from tollgate.services.container import Services

# -- the happy path ---------------------------------------------------------------------


async def test_a_code_gets_tokens_for_the_app_and_an_id_token(
    client: httpx.AsyncClient, services: Services, shop: NewClient, user: dict[str, Any]
) -> None:
    issued = await shop_code(services, shop, user)

    response = await exchange(client, issued, shop)

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "email openid profile"
    access = unverified(body["access_token"])
    assert access["client_id"] == shop.client_id
    assert access["sub"] == user["id"]
    assert access["scope"] == "email openid profile"
    assert access["aud"] == "tollgate"
    # A new session of the app, not the browser's login session.
    assert access["sid"] != str(issued.record.login_session_id)
    session = await services.stores.sessions.live(uuid.UUID(access["sid"]), services.clock.now())
    assert session is not None
    assert session.client_id == shop.client_id
    assert unverified(body["refresh_token"])["client_id"] == shop.client_id
    me = await client.get("/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200
    assert me.json()["scope"] == "email openid profile"
    assert "code.exchanged" in await events(services)


async def test_the_id_token_says_who_signed_in_signed_rs256_from_the_jwks(
    client: httpx.AsyncClient, services: Services, shop: NewClient, user: dict[str, Any]
) -> None:
    issued = await shop_code(services, shop, user)
    body = (await exchange(client, issued, shop)).json()
    id_token = body["id_token"]

    header = jwt.get_unverified_header(id_token)
    assert header["typ"] == "JWT"
    assert header["alg"] == "RS256"
    jwks = (await client.get("/.well-known/jwks.json")).json()["keys"]
    jwk = next(k for k in jwks if k["kid"] == header["kid"])
    assert (jwk["alg"], jwk["use"], jwk["kty"]) == ("RS256", "sig", "RSA")
    claims = jwt.decode(
        id_token,
        jwt.PyJWK(jwk).key,
        algorithms=["RS256"],
        audience=shop.client_id,
        issuer=ISSUER,
    )
    record = issued.record
    assert claims["sub"] == user["id"]
    assert claims["azp"] == shop.client_id
    assert claims["nonce"] == record.nonce
    assert claims["sid"] == str(record.login_session_id)
    assert claims["auth_time"] == int(record.auth_time.timestamp())
    assert claims["exp"] > claims["iat"]
    # OIDC Core §3.1.3.6, computed here: left half of SHA-256 of the access token.
    digest = hashlib.sha256(body["access_token"].encode("ascii")).digest()
    assert claims["at_hash"] == base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()
    assert claims["preferred_username"] == "Minsu"
    assert (claims["email"], claims["email_verified"]) == ("minsu@example.org", False)


async def test_without_openid_there_is_no_id_token_and_without_scopes_no_claims(
    client: httpx.AsyncClient, services: Services, shop: NewClient, user: dict[str, Any]
) -> None:
    issued = await issue_code(
        services, shop.client_id, user["id"], redirect_uri=SHOP_CALLBACK, scope="profile"
    )
    body = (await exchange(client, issued, shop)).json()
    assert "id_token" not in body
    assert body["scope"] == "profile"

    bare = await issue_code(
        services, shop.client_id, user["id"], redirect_uri=SHOP_CALLBACK, scope="openid", nonce=None
    )
    claims = unverified((await exchange(client, bare, shop)).json()["id_token"])
    assert "nonce" not in claims
    assert not {"preferred_username", "email", "email_verified"} & claims.keys()


async def test_client_secret_post_and_a_public_client_with_its_id_alone(
    client: httpx.AsyncClient, services: Services, shop: NewClient, user: dict[str, Any]
) -> None:
    issued = await shop_code(services, shop, user)
    posted = code_form(issued, client_id=shop.client_id, client_secret=str(shop.client_secret))
    assert (await client.post("/auth", data=posted)).status_code == 200

    phone = await register(
        services, "phone", public=True, redirect_uris=("com.example.phone:/callback",)
    )
    assert phone.client_secret is None
    code = await issue_code(
        services, phone.client_id, user["id"], redirect_uri="com.example.phone:/callback"
    )
    answer = await client.post("/auth", data=code_form(code, client_id=phone.client_id))
    assert answer.status_code == 200, answer.text
    tokens = answer.json()
    # The public client refreshes with its id alone too; rotation as for every session.
    refreshed = await client.post(
        "/auth",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": phone.client_id,
        },
    )
    assert refreshed.status_code == 200, refreshed.text
    assert unverified(refreshed.json()["access_token"])["client_id"] == phone.client_id
    assert refreshed.json()["scope"] == "email openid profile"


# -- refusals ---------------------------------------------------------------------------


async def test_client_authentication_failures_are_401_invalid_client(
    client: httpx.AsyncClient, services: Services, shop: NewClient, user: dict[str, Any]
) -> None:
    issued = await shop_code(services, shop, user)
    form = code_form(issued)
    attempts = [
        basic(shop.client_id, "wrong secret"),
        basic("tgc_nobody", "whatever"),
    ]
    for headers in attempts:
        refused = await client.post("/auth", data=form, headers=headers)
        assert refused.status_code == 401
        assert refused.json()["error"] == "invalid_client"
        assert "Basic" in refused.headers["www-authenticate"]  # RFC 6749 §5.2
    # A confidential client must prove it is itself: its id alone is not enough.
    alone = await client.post("/auth", data=code_form(issued, client_id=shop.client_id))
    assert alone.status_code == 401
    assert alone.json()["error"] == "invalid_client"
    nobody = await client.post("/auth", data=form)
    assert nobody.status_code == 401
    assert nobody.json()["error"] == "invalid_client"
    # None of it used the code up.
    assert (await exchange(client, issued, shop)).status_code == 200


async def test_pkce_is_required_and_checked(
    client: httpx.AsyncClient, services: Services, user: dict[str, Any]
) -> None:
    phone = await register(services, "phone", public=True, redirect_uris=(SHOP_CALLBACK,))
    issued = await issue_code(services, phone.client_id, user["id"], redirect_uri=SHOP_CALLBACK)

    async def send(**overrides: str) -> httpx.Response:
        form = code_form(issued, client_id=phone.client_id, **overrides)
        return await client.post("/auth", data=form)

    missing = await send(code_verifier="")
    assert (missing.status_code, missing.json()["error"]) == (400, "invalid_request")
    malformed = await send(code_verifier="short")
    assert (malformed.status_code, malformed.json()["error"]) == (400, "invalid_request")
    wrong = await send(code_verifier="x" * 43)
    assert (wrong.status_code, wrong.json()["error"]) == (400, "invalid_grant")
    assert "code_verifier" in wrong.json()["error_description"]
    assert "code.refused" in await events(services)
    assert (await send()).status_code == 200


async def test_redirect_uri_and_client_must_match_the_code(
    client: httpx.AsyncClient, services: Services, shop: NewClient, user: dict[str, Any]
) -> None:
    other = await register(services, "other")
    issued = await shop_code(services, shop, user)

    wrong_uri = await exchange(client, issued, shop, redirect_uri="https://shop.example/other")
    assert (wrong_uri.status_code, wrong_uri.json()["error"]) == (400, "invalid_grant")
    assert "redirect_uri" in wrong_uri.json()["error_description"]
    injected = await exchange(client, issued, other)
    assert (injected.status_code, injected.json()["error"]) == (400, "invalid_grant")
    unknown = await exchange(client, issued, shop, code="no-such-code")
    assert (unknown.status_code, unknown.json()["error"]) == (400, "invalid_grant")


async def test_an_expired_code_is_refused(
    client: httpx.AsyncClient,
    services: Services,
    shop: NewClient,
    user: dict[str, Any],
    clock: MovableClock,
) -> None:
    issued = await shop_code(services, shop, user)
    clock.advance(61)
    expired = await exchange(client, issued, shop)
    assert (expired.status_code, expired.json()["error"]) == (400, "invalid_grant")
    assert "expired" in expired.json()["error_description"]


async def test_a_replayed_code_revokes_what_its_first_exchange_issued(
    client: httpx.AsyncClient, services: Services, shop: NewClient, user: dict[str, Any]
) -> None:
    issued = await shop_code(services, shop, user)
    first = (await exchange(client, issued, shop)).json()

    again = await exchange(client, issued, shop)

    assert (again.status_code, again.json()["error"]) == (400, "invalid_grant")
    assert (await client.get("/me", headers=bearer(first["access_token"]))).status_code == 401
    refresh = await client.post(
        "/auth",
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
        headers=basic(shop.client_id, shop.client_secret),
    )
    assert (refresh.status_code, refresh.json()["error"]) == (400, "invalid_grant")
    assert "code.replayed" in await events(services)


async def test_a_client_without_the_grant_is_unauthorized(
    client: httpx.AsyncClient, services: Services, user: dict[str, Any]
) -> None:
    machine = await register(
        services, "machine", redirect_uris=(), grant_types=("client_credentials",), scope="reports"
    )
    issued = await issue_code(services, machine.client_id, user["id"], redirect_uri=SHOP_CALLBACK)
    refused = await exchange(client, issued, machine)
    assert (refused.status_code, refused.json()["error"]) == (400, "unauthorized_client")


# -- refresh of an app's session ----------------------------------------------------------


async def test_only_the_apps_own_client_refreshes_its_session(
    client: httpx.AsyncClient, services: Services, shop: NewClient, user: dict[str, Any]
) -> None:
    other = await register(services, "other")
    tokens = (await exchange(client, await shop_code(services, shop, user), shop)).json()
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}

    by_other = await client.post(
        "/auth", data=form, headers=basic(other.client_id, other.client_secret)
    )
    assert (by_other.status_code, by_other.json()["error"]) == (400, "invalid_grant")
    unauthenticated = await client.post("/auth", data=form)
    assert unauthenticated.status_code == 400
    first_party = await client.post("/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert first_party.status_code == 401
    wrong_secret = await client.post("/auth", data=form, headers=basic(shop.client_id, "nope"))
    assert wrong_secret.status_code == 401

    # None of that used the token up: the app itself rotates it.
    own = await client.post("/auth", data=form, headers=basic(shop.client_id, shop.client_secret))
    assert own.status_code == 200, own.text
    rotated = own.json()
    assert rotated["scope"] == "email openid profile"
    assert unverified(rotated["access_token"])["client_id"] == shop.client_id
    assert rotated["refresh_token"] != tokens["refresh_token"]


async def test_refresh_reuse_by_the_app_revokes_its_session(
    client: httpx.AsyncClient,
    services: Services,
    shop: NewClient,
    user: dict[str, Any],
    clock: MovableClock,
) -> None:
    tokens = (await exchange(client, await shop_code(services, shop, user), shop)).json()
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    auth = basic(shop.client_id, shop.client_secret)
    rotated = (await client.post("/auth", data=form, headers=auth)).json()
    clock.advance(services.settings.refresh_reuse_interval + 1)

    reused = await client.post("/auth", data=form, headers=auth)

    assert (reused.status_code, reused.json()["error"]) == (400, "invalid_grant")
    later = {"grant_type": "refresh_token", "refresh_token": rotated["refresh_token"]}
    assert (await client.post("/auth", data=later, headers=auth)).status_code == 400
    assert (await client.get("/me", headers=bearer(rotated["access_token"]))).status_code == 401


async def test_an_app_cannot_use_the_password_grant(
    client: httpx.AsyncClient, shop: NewClient, user: dict[str, Any]
) -> None:
    form = {"grant_type": "password", "username": "Minsu", "password": PASSWORD}
    for extra in (basic(shop.client_id, shop.client_secret), {}):
        data = form if extra else {**form, "client_id": shop.client_id}
        refused = await client.post("/auth", data=data, headers=extra)
        assert (refused.status_code, refused.json()["error"]) == (400, "unauthorized_client")
    # First-party callers, with or without a client_id of their own, as before.
    assert (await client.post("/auth", data=form)).status_code == 200
    assert (await client.post("/auth", data={**form, "client_id": "tollgate"})).status_code == 200
    stock = await client.post("/auth", data=form, headers=basic("some-app", "its-secret"))
    assert stock.status_code == 200


async def test_a_client_registered_for_es256_gets_es256_id_tokens(
    client: httpx.AsyncClient, services: Services, user: dict[str, Any]
) -> None:
    es = await register(services, "es", id_token_alg="ES256")
    issued = await issue_code(
        services, es.client_id, user["id"], redirect_uri="https://es.example/callback"
    )
    body = (await exchange(client, issued, es)).json()

    header = jwt.get_unverified_header(body["id_token"])
    assert header["alg"] == "ES256"
    assert header["kid"] == jwt.get_unverified_header(body["access_token"])["kid"]
    jwks = (await client.get("/.well-known/jwks.json")).json()["keys"]
    key = jwt.PyJWK(next(k for k in jwks if k["kid"] == header["kid"])).key
    claims = jwt.decode(body["id_token"], key, algorithms=["ES256"], audience=es.client_id)
    digest = hashlib.sha256(body["access_token"].encode("ascii")).digest()
    assert claims["at_hash"] == base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()
