"""Authlib's OAuth 2.0 / OpenID Connect client as a relying party of a real Tollgate
(issue 14): code + PKCE S256 with client_secret_basic, client_secret_post and a public
client; the ID token validated by Authlib; refresh rotation with reuse detection;
client_credentials; and selective consent reaching a resource protected by
tollgate.verify (examples/oidc_app's /api/notes).

The first sign-in goes through Debian's Chromium on Tollgate's real pages: only a browser
applies what the pages tell it (Content-Security-Policy such as form-action on the post
that redirects to the app, SameSite cookies, scripts). The later ones post the same
pages' HTML forms over HTTP (tests.support.oidc.walk_to_redirect), which is quicker on a
shared machine and still goes through the real forms, CSRF fields and cookies.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from playwright.sync_api import Browser, Route

from tests.conftest import PASSWORD, bearer
from tests.e2e.server import free_port, tollgate_process
from tests.support.chromium import TIMEOUT_MS, consent, launched_chromium, log_in
from tests.support.oidc import (
    Registered,
    create_user,
    query,
    register_client,
    running_example_app,
    validated_id_token,
    walk_to_redirect,
)

# Where Tollgate sends the browser back; nothing listens there (the browser's request is
# caught, the HTTP walk stops before it): Authlib only needs the URL.
CALLBACK = f"http://127.0.0.1:{free_port()}/callback"
ASKED = "openid profile email notes:read notes:write"
USER = "wanjiru"


@dataclass
class Stack:
    tollgate: str
    metadata: dict[str, Any]
    jwks: dict[str, Any]
    confidential: Registered
    public: Registered
    service: Registered
    revocable: Registered  # the consent-revocation test's own app
    notes: str  # examples/oidc_app: GET /api/notes needs notes:read


@pytest.fixture(scope="module")
def stack(database: Path, backend: tuple[str, Callable[[str], str]]) -> Iterator[Stack]:
    """Tollgate on SQLite, then on PostgreSQL (tests/e2e/conftest.py's backend), with
    the clients and the user registered through the CLI, and the example app."""
    url = backend[0]

    def register(name: str, scope: str = ASKED, **options: Any) -> Registered:
        options.setdefault("redirect_uris", [CALLBACK])
        return register_client(database, name, scope=scope, database_url=url, **options)

    # Reuse interval 0: a refresh token presented twice is a reuse at once.
    server = tollgate_process(database, database_url=url, refresh_reuse_interval="0")
    with server as (tollgate, _):
        confidential = register("Authlib app")
        public = register("Authlib native app", public=True)
        service = register(
            "Authlib service", "notes:read", redirect_uris=[], grants=["client_credentials"]
        )
        revocable = register("Revocable app")
        example = register("Notes app", "openid notes:read")
        user_scope = "notes:read notes:write"
        email = "wanjiru@example.com"
        create_user(database, USER, PASSWORD, email=email, scope=user_scope, database_url=url)
        metadata = httpx.get(f"{tollgate}/.well-known/openid-configuration").json()
        jwks = httpx.get(metadata["jwks_uri"]).json()
        log = database.with_suffix(f".{url.split(':')[0]}.app.log")
        with running_example_app(tollgate, example, free_port(), log) as app:
            notes = f"{app}/api/notes"
            yield Stack(tollgate, metadata, jwks, confidential, public, service, revocable, notes)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launched_chromium() as chromium:
        yield chromium


def session_for(client: Registered, **kwargs: Any) -> OAuth2Session:
    auth_method = "client_secret_basic" if client.client_secret else "none"
    return OAuth2Session(
        client.client_id,
        client.client_secret,
        scope=ASKED,
        redirect_uri=CALLBACK,
        code_challenge_method="S256",
        token_endpoint_auth_method=kwargs.pop("token_endpoint_auth_method", auth_method),
        **kwargs,
    )


def access_claims(token: dict[str, Any]) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token["access_token"], options={"verify_signature": False})
    return claims


def test_browser_sign_in_with_a_scope_left_out(stack: Stack, browser: Browser) -> None:
    client = session_for(stack.confidential)
    verifier, nonce = generate_token(48), secrets.token_urlsafe(16)
    url, state = client.create_authorization_url(
        stack.metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )
    sent = query(url)
    assert sent["code_challenge_method"] == "S256"
    assert len(sent["code_challenge"]) == 43

    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    callbacks: list[str] = []

    def arrive(route: Route) -> None:
        callbacks.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body="<h1>back at the app</h1>")

    page.route(f"{CALLBACK}**", arrive)
    try:
        page.goto(url)
        log_in(page, stack.tollgate, USER, PASSWORD)
        scopes = ASKED.split()
        # The user leaves notes:read out.
        consent(page, stack.tollgate, app="Authlib app", scopes=scopes, uncheck=("notes:read",))
        page.wait_for_selector("text=back at the app")
    finally:
        context.close()

    assert len(callbacks) == 1
    back = query(callbacks[0])
    assert back["state"] == state
    assert back["iss"] == stack.metadata["issuer"]  # RFC 9207

    token = client.fetch_token(
        stack.metadata["token_endpoint"],
        authorization_response=callbacks[0],
        code_verifier=verifier,
        state=state,
    )
    claims = validated_id_token(
        token,
        issuer=stack.metadata["issuer"],
        client_id=stack.confidential.client_id,
        nonce=nonce,
        jwks=stack.jwks,
    )
    access = access_claims(token)
    assert claims["sub"] == access["sub"]
    assert claims["aud"] == stack.confidential.client_id
    assert claims["azp"] == stack.confidential.client_id
    assert claims["preferred_username"] == USER
    assert claims["email"] == "wanjiru@example.com"
    assert "email_verified" in claims
    assert claims["at_hash"]  # checked by CodeIDToken above
    assert claims["sid"]
    assert claims["auth_time"]

    # The token carries exactly what was granted: notes:read is absent.
    granted = {"openid", "profile", "email", "notes:write"}
    assert set(access["scope"].split()) == granted
    assert set(token["scope"].split()) == granted
    assert access["client_id"] == stack.confidential.client_id

    # ...so the resource that needs it refuses, in tollgate.verify's shape.
    refused = httpx.get(stack.notes, headers=bearer(token["access_token"]))
    assert refused.status_code == 403
    assert refused.json()["error"] == "insufficient_scope"
    assert 'scope="notes:read"' in refused.headers["www-authenticate"]

    # /userinfo: sub and the claims of the granted scopes.
    userinfo = client.get(stack.metadata["userinfo_endpoint"])
    assert userinfo.status_code == 200
    assert userinfo.json()["sub"] == claims["sub"]
    assert userinfo.json()["preferred_username"] == USER
    assert userinfo.json()["email"] == "wanjiru@example.com"

    # Refresh rotates; the old refresh token presented again is a reuse: refused, and it
    # ends the session, so the rotated one stops working too. (Authlib sends the session's
    # scope with a refresh; a scope beyond the granted one is invalid_scope, RFC 6749 §6,
    # so the client asks for what it was granted.)
    client.scope = token["scope"]
    first_refresh = token["refresh_token"]
    rotated = client.refresh_token(stack.metadata["token_endpoint"], refresh_token=first_refresh)
    assert rotated["refresh_token"] != first_refresh
    assert set(access_claims(rotated)["scope"].split()) == granted
    assert access_claims(rotated)["sid"] == access["sid"]
    # An app's access token is an access token like any: Tollgate's own /me takes it.
    me = httpx.get(f"{stack.tollgate}/me", headers=bearer(rotated["access_token"]))
    assert me.status_code == 200
    assert me.json()["username"] == USER
    with pytest.raises(OAuthError) as reused:
        client.refresh_token(stack.metadata["token_endpoint"], refresh_token=first_refresh)
    assert reused.value.error == "invalid_grant"
    with pytest.raises(OAuthError) as ended:
        client.refresh_token(
            stack.metadata["token_endpoint"], refresh_token=rotated["refresh_token"]
        )
    assert ended.value.error == "invalid_grant"


def sign_in_over_http(
    stack: Stack, http: httpx.Client, client: OAuth2Session, pages: list[str]
) -> tuple[dict[str, Any], str]:
    """The whole code flow with the HTTP walk, meeting these pages on the way; the token
    response (ID token validated) and its ID token's claims."""
    verifier, nonce = generate_token(48), secrets.token_urlsafe(16)
    url, state = client.create_authorization_url(
        stack.metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )
    walk = walk_to_redirect(http, url, CALLBACK, username=USER, password=PASSWORD)
    assert walk.pages == pages
    assert query(walk.url)["state"] == state
    assert query(walk.url)["iss"] == stack.metadata["issuer"]
    token: dict[str, Any] = client.fetch_token(
        stack.metadata["token_endpoint"],
        authorization_response=walk.url,
        code_verifier=verifier,
        state=state,
    )
    claims = validated_id_token(
        token,
        issuer=stack.metadata["issuer"],
        client_id=client.client_id,
        nonce=nonce,
        jwks=stack.jwks,
    )
    return token, claims


def test_public_client_and_client_secret_post_with_single_sign_on(stack: Stack) -> None:
    with httpx.Client() as http:  # one "browser": its cookie jar keeps Tollgate's SSO cookie
        public = session_for(stack.public)
        token, claims = sign_in_over_http(stack, http, public, ["login", "consent"])
        assert claims["preferred_username"] == USER
        assert set(access_claims(token)["scope"].split()) == set(ASKED.split())
        # Every scope granted: the resource answers.
        notes = httpx.get(stack.notes, headers=bearer(token["access_token"]))
        assert notes.status_code == 200, notes.text
        assert notes.json()["owner"] == claims["sub"]
        # A public client refreshes with its client_id alone.
        rotated = public.refresh_token(
            stack.metadata["token_endpoint"], refresh_token=token["refresh_token"]
        )
        assert rotated["refresh_token"] != token["refresh_token"]

        # The same app again in the same browser: logged in and consented already.
        _, again = sign_in_over_http(stack, http, public, [])
        assert again["sid"] == claims["sid"]

        # Another app (client_secret_post this time): no password, but its own consent.
        post = session_for(stack.confidential, token_endpoint_auth_method="client_secret_post")
        _, other = sign_in_over_http(stack, http, post, ["consent"])
        assert other["sid"] == claims["sid"]  # the same browser session behind both
        assert other["sub"] == claims["sub"]
        assert other["aud"] == stack.confidential.client_id


def test_a_code_works_once(stack: Stack) -> None:
    with httpx.Client() as http:
        client = session_for(stack.public)
        verifier, nonce = generate_token(48), secrets.token_urlsafe(16)
        url, state = client.create_authorization_url(
            stack.metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce
        )
        callback = walk_to_redirect(http, url, CALLBACK, username=USER, password=PASSWORD).url
        token = client.fetch_token(
            stack.metadata["token_endpoint"],
            authorization_response=callback,
            code_verifier=verifier,
            state=state,
        )
        with pytest.raises(OAuthError) as replayed:
            client.fetch_token(
                stack.metadata["token_endpoint"],
                authorization_response=callback,
                code_verifier=verifier,
                state=state,
            )
        assert replayed.value.error == "invalid_grant"
        # The replay revoked what the code had issued (RFC 6749 §4.1.2).
        with pytest.raises(OAuthError) as revoked:
            client.refresh_token(
                stack.metadata["token_endpoint"], refresh_token=token["refresh_token"]
            )
        assert revoked.value.error == "invalid_grant"


def test_client_credentials(stack: Stack) -> None:
    service = OAuth2Session(
        stack.service.client_id, stack.service.client_secret, scope="notes:read"
    )
    token = service.fetch_token(stack.metadata["token_endpoint"], grant_type="client_credentials")
    assert "refresh_token" not in token
    assert "id_token" not in token
    claims = access_claims(token)
    assert claims["sub"] == claims["client_id"] == stack.service.client_id
    assert claims["scope"] == "notes:read"
    notes = httpx.get(stack.notes, headers=bearer(token["access_token"]))
    assert notes.status_code == 200, notes.text
    assert notes.json()["owner"] == stack.service.client_id

    # Asking for no scope (and client_secret_post this time): every registered one.
    unscoped = OAuth2Session(
        stack.service.client_id,
        stack.service.client_secret,
        token_endpoint_auth_method="client_secret_post",
    )
    everything = unscoped.fetch_token(
        stack.metadata["token_endpoint"], grant_type="client_credentials"
    )
    assert everything["scope"] == "notes:read"

    wider = OAuth2Session(stack.service.client_id, stack.service.client_secret, scope="notes:write")
    with pytest.raises(OAuthError) as refused:
        wider.fetch_token(stack.metadata["token_endpoint"], grant_type="client_credentials")
    assert refused.value.error == "invalid_scope"


def test_taking_back_a_consent_ends_the_apps_sessions(stack: Stack) -> None:
    """The user's side: the app is listed under the apps allowed; revoking it ends its
    sessions of this user (its refresh token stops working), and the next sign-in asks
    for consent again."""
    with httpx.Client() as http:
        app = session_for(stack.revocable)
        token, _ = sign_in_over_http(stack, http, app, ["login", "consent"])
        app.scope = token["scope"]
        token = app.refresh_token(
            stack.metadata["token_endpoint"], refresh_token=token["refresh_token"]
        )
        mine = httpx.post(f"{stack.tollgate}/login", json={"username": USER, "password": PASSWORD})
        assert mine.status_code == 200, mine.text
        me = bearer(mine.json()["access_token"])
        allowed = httpx.get(f"{stack.tollgate}/consents", headers=me)
        assert allowed.status_code == 200
        listed = {c["client_id"]: c for c in allowed.json()}
        assert listed[stack.revocable.client_id]["client_name"] == "Revocable app"
        assert set(listed[stack.revocable.client_id]["scope"].split()) == set(ASKED.split())

        revoked = httpx.delete(f"{stack.tollgate}/consents/{stack.revocable.client_id}", headers=me)
        assert revoked.status_code == 204
        with pytest.raises(OAuthError) as ended:
            app.refresh_token(
                stack.metadata["token_endpoint"], refresh_token=token["refresh_token"]
            )
        assert ended.value.error == "invalid_grant"
        gone = httpx.get(f"{stack.tollgate}/consents", headers=me).json()
        assert stack.revocable.client_id not in {c["client_id"] for c in gone}
        # Still logged in to Tollgate in this browser, but asked to allow the app again.
        sign_in_over_http(stack, http, session_for(stack.revocable), ["consent"])
