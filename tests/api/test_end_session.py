"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) at /end-session."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.api.test_authorize import assert_page_headers, log_in
from tests.conftest import ISSUER, join
from tests.support.authorize import (
    POST_LOGOUT_URI,
    add_client,
    authorize_url,
    form_token,
    query_of,
)
from tollgate.services.browser_session import SSO_COOKIE
from tollgate.store.records import ClientRecord
from tollgate.tokens.signing import sign


@pytest.fixture
async def shop(app: FastAPI) -> ClientRecord:
    return await add_client(app.state.services.stores.clients, trusted=True)


async def sign_in(app: FastAPI, client: httpx.AsyncClient, shop: ClientRecord) -> uuid.UUID:
    """Log in through the authorization endpoint; the browser's Tollgate session id."""
    await join(client)
    page = await client.get(authorize_url(shop))
    response = await log_in(client, page)
    assert response.status_code == 303
    claims = query_of(response.headers["location"])
    assert claims["code"]
    sso = client.cookies.get(SSO_COOKIE)
    assert sso
    signed_in = await app.state.services.browser.current(sso)
    assert signed_in is not None
    return uuid.UUID(str(signed_in.session.id))


async def id_token(app: FastAPI, **claims: Any) -> str:
    """An ID token as the token endpoint makes them, expired an hour ago by default."""
    key = await app.state.services.keyring.signer()
    now = int(time.time())
    body = {"iss": ISSUER, "iat": now - 7200, "exp": now - 3600, **claims}
    return sign(body, key.alg, key.signing_key, key.kid, "JWT")


async def live(app: FastAPI, session_id: uuid.UUID) -> bool:
    services = app.state.services
    return await services.stores.sessions.live(session_id, services.clock.now()) is not None


async def test_a_valid_hint_logs_out_and_returns_to_the_registered_uri(
    app: FastAPI, client: httpx.AsyncClient, shop: ClientRecord
) -> None:
    sid = await sign_in(app, client, shop)
    user = await app.state.services.stores.sessions.live(sid, app.state.services.clock.now())
    assert user is not None
    hint = await id_token(app, aud=shop.client_id, sub=str(user.user_id), sid=str(sid))
    response = await client.get(
        "/end-session",
        params={"id_token_hint": hint, "post_logout_redirect_uri": POST_LOGOUT_URI, "state": "s"},
    )
    assert response.status_code == 303
    assert response.headers["location"] == POST_LOGOUT_URI + "?state=s"
    assert not await live(app, sid)
    assert f'{SSO_COOKIE}=""' in response.headers["set-cookie"]
    # Signed out: the next sign-in asks for the password.
    page = await client.get(authorize_url(shop))
    assert "Log in to continue" in page.text


@pytest.mark.parametrize(
    "uri", ["https://evil.example/bye", "https://app.example/bye/", "https://app.example/callback"]
)
async def test_an_unregistered_post_logout_uri_shows_the_page_instead(
    app: FastAPI, client: httpx.AsyncClient, shop: ClientRecord, uri: str
) -> None:
    sid = await sign_in(app, client, shop)
    session = await app.state.services.stores.sessions.live(sid, app.state.services.clock.now())
    assert session is not None
    hint = await id_token(app, aud=shop.client_id, sub=str(session.user_id))
    response = await client.get(
        "/end-session", params={"id_token_hint": hint, "post_logout_redirect_uri": uri}
    )
    assert response.status_code == 200
    assert "location" not in response.headers
    assert "You are logged out" in response.text
    assert not await live(app, sid)


async def test_without_a_valid_hint_the_user_is_asked_first(
    app: FastAPI, client: httpx.AsyncClient, shop: ClientRecord
) -> None:
    sid = await sign_in(app, client, shop)
    # A bare link on another site, and a hint whose signature was tampered with: neither
    # logs out.
    key_of_someone_else = await id_token(app, aud=shop.client_id)
    forged = key_of_someone_else[:-4] + (
        "AAAA" if not key_of_someone_else.endswith("AAAA") else "BBBB"
    )
    for params in (
        {},
        {"id_token_hint": forged, "post_logout_redirect_uri": POST_LOGOUT_URI},
        {"client_id": shop.client_id, "post_logout_redirect_uri": POST_LOGOUT_URI, "state": "q"},
    ):
        asked = await client.get("/end-session", params=params)
        assert asked.status_code == 200
        assert "Log out of Tollgate?" in asked.text
        assert_page_headers(asked)
        assert await live(app, sid)
    # The confirmation form, posted without this browser's CSRF cookie: refused.
    token = form_token(asked.text, "confirm")
    transport = httpx.ASGITransport(app=app.state.asgi)
    async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as forger:
        forger.cookies.set(SSO_COOKIE, client.cookies[SSO_COOKIE])
        refused = await forger.post("/end-session", data={"confirm": token})
    assert refused.status_code == 403
    assert await live(app, sid)
    # Confirmed in the browser: logged out, and sent back (client_id named a registered URI).
    done = await client.post("/end-session", data={"confirm": token})
    assert done.status_code == 303
    assert done.headers["location"] == POST_LOGOUT_URI + "?state=q"
    assert not await live(app, sid)


async def test_a_hint_for_another_client_than_client_id_is_not_trusted(
    app: FastAPI, client: httpx.AsyncClient, shop: ClientRecord
) -> None:
    sid = await sign_in(app, client, shop)
    other = await add_client(app.state.services.stores.clients, name="Other")
    session = await app.state.services.stores.sessions.live(sid, app.state.services.clock.now())
    assert session is not None
    hint = await id_token(app, aud=other.client_id, sub=str(session.user_id))
    response = await client.get(
        "/end-session",
        params={
            "id_token_hint": hint,
            "client_id": shop.client_id,
            "post_logout_redirect_uri": POST_LOGOUT_URI,
        },
    )
    assert response.status_code == 200
    assert "Log out of Tollgate?" in response.text
    assert await live(app, sid)


async def test_signed_out_browser_gets_the_page_or_the_registered_uri(
    app: FastAPI, client: httpx.AsyncClient, shop: ClientRecord
) -> None:
    page = await client.get("/end-session")
    assert page.status_code == 200
    assert "You are logged out" in page.text
    hint = await id_token(app, aud=shop.client_id, sub=str(uuid.uuid4()))
    back = await client.post(
        "/end-session",
        data={"id_token_hint": hint, "post_logout_redirect_uri": POST_LOGOUT_URI},
    )
    assert back.status_code == 303
    assert back.headers["location"] == POST_LOGOUT_URI
    # An access token is not an ID token, even when signed by the same key.
    key = await app.state.services.keyring.signer()
    access = sign(
        {"iss": ISSUER, "aud": shop.client_id, "sub": "x"}, key.alg, key.signing_key, key.kid,
        "at+jwt",
    )  # fmt: skip
    not_hint = await client.get(
        "/end-session",
        params={"id_token_hint": access, "post_logout_redirect_uri": POST_LOGOUT_URI},
    )
    assert not_hint.status_code == 200
    assert "location" not in not_hint.headers
