"""The authorization endpoint's login page asks for the second factor too (issue 18): a
right password shows a code prompt, never a code for the app; the app's tokens and ID
token then say how the user logged in."""

from __future__ import annotations

import html
import json
import re
import time
from typing import Any

import httpx
import pyotp
import pytest
from fastapi import FastAPI

from tests.api.test_passkeys_api import register
from tests.conftest import PASSWORD, bearer, join
from tests.conftest import token_claims as claims
from tests.support.authorize import (
    REDIRECT_URI,
    add_client,
    authorize_params,
    form_token,
    pkce,
    query_of,
)
from tollgate.store.records import ClientRecord


@pytest.fixture
async def shop(app: FastAPI) -> ClientRecord:
    return await add_client(app.state.services.stores.clients, trusted=True)


async def with_app(client: httpx.AsyncClient) -> pyotp.TOTP:
    tokens = await join(client)
    auth = bearer(tokens["access_token"])
    started = await client.post("/mfa/totp", json={"password": PASSWORD}, headers=auth)
    totp = pyotp.TOTP(started.json()["secret"])
    confirmed = await client.post("/mfa/totp/confirm", json={"code": totp.now()}, headers=auth)
    assert confirmed.status_code == 200
    return totp


def passkey_options(page: str) -> dict[str, Any]:
    """The WebAuthn request options the second-step page hands its script."""
    match = re.search(r'data-options="([^"]*)"', page)
    assert match, "no passkey form in the page"
    found: dict[str, Any] = json.loads(html.unescape(match.group(1)))
    return found


def next_code(totp: pyotp.TOTP) -> str:
    """The next step's code: unused (the confirmation took this one), within the drift."""
    return totp.at(time.time() + 30)


async def test_a_right_password_gets_a_code_prompt_and_no_code(
    client: httpx.AsyncClient, shop: ClientRecord
) -> None:
    totp = await with_app(client)
    verifier, challenge = pkce()
    page = await client.get("/authorize", params=authorize_params(shop, code_challenge=challenge))
    prompt = await client.post(
        "/authorize/login",
        data={"request": form_token(page.text), "username": "minsu", "password": PASSWORD},
    )
    assert prompt.status_code == 200
    assert "Code from your authenticator app" in prompt.text
    assert "location" not in prompt.headers
    assert "tollgate_sso" not in prompt.headers.get("set-cookie", "")
    assert "frame-ancestors 'none'" in prompt.headers["content-security-policy"]

    wrong = await client.post(
        "/authorize/mfa", data={"request": form_token(prompt.text), "code": "12345x"}
    )
    assert wrong.status_code == 401
    assert "That code is not valid." in wrong.text
    done = await client.post(
        "/authorize/mfa", data={"request": form_token(wrong.text), "code": next_code(totp)}
    )
    assert done.status_code == 303, done.text
    answer = query_of(done.headers["location"])
    assert done.headers["location"].startswith(REDIRECT_URI)
    exchanged = await client.post(
        "/auth",
        data={
            "grant_type": "authorization_code",
            "code": answer["code"],
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
            "client_id": shop.client_id,
        },
    )
    assert exchanged.status_code == 200, exchanged.text
    tokens = exchanged.json()
    assert claims(tokens["access_token"])["amr"] == ["pwd", "otp"]
    assert claims(tokens["id_token"])["amr"] == ["pwd", "otp"]
    assert claims(tokens["id_token"])["acr"] == "2"
    refreshed = await client.post(
        "/auth",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": shop.client_id,
        },
    )
    assert claims(refreshed.json()["access_token"])["acr"] == "2"


async def test_the_prompt_form_cannot_be_forged_or_reused(
    client: httpx.AsyncClient, shop: ClientRecord
) -> None:
    totp = await with_app(client)
    page = await client.get("/authorize", params=authorize_params(shop))
    login_form = form_token(page.text)
    # A login form token does not pass as the second step.
    forged = await client.post("/authorize/mfa", data={"request": login_form, "code": "1"})
    assert forged.status_code == 403
    prompt = await client.post(
        "/authorize/login",
        data={"request": login_form, "username": "minsu", "password": PASSWORD},
    )
    second = form_token(prompt.text)
    done = await client.post("/authorize/mfa", data={"request": second, "code": next_code(totp)})
    assert done.status_code == 303
    # The mfa_token inside is used up: the same form again asks for the password.
    again = await client.post(
        "/authorize/mfa", data={"request": second, "code": totp.at(time.time() - 30)}
    )
    assert again.status_code == 401
    assert 'name="password"' in again.text


async def test_a_passkey_is_the_second_step_on_the_login_page(
    client: httpx.AsyncClient, shop: ClientRecord
) -> None:
    """An account whose only factor is a passkey: the page asks for the passkey (our
    script, the page's options), and the app's tokens say password and hardware key."""
    tokens = await join(client)
    passkey, _ = await register(client, tokens["access_token"])
    verifier, challenge = pkce()
    page = await client.get("/authorize", params=authorize_params(shop, code_challenge=challenge))
    prompt = await client.post(
        "/authorize/login",
        data={"request": form_token(page.text), "username": "minsu", "password": PASSWORD},
    )
    assert prompt.status_code == 200, prompt.text
    assert "Code from your authenticator app" not in prompt.text  # it has none
    assert 'src="/authorize/passkey.js"' in prompt.text
    assert "script-src 'self'" in prompt.headers["content-security-policy"]
    assert "unsafe-inline" not in prompt.headers["content-security-policy"]
    script = await client.get("/authorize/passkey.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert "./webauthn.js" in script.text
    assert (await client.get("/authorize/webauthn.js")).status_code == 200

    options = passkey_options(prompt.text)
    garbled = await client.post(
        "/authorize/mfa", data={"request": form_token(prompt.text), "credential": "{not json"}
    )
    assert garbled.status_code == 400
    assert "The passkey could not be verified" in garbled.text
    # Each showing of the page has a challenge of its own.
    assert passkey_options(garbled.text)["challenge"] != options["challenge"]
    answer = passkey.get(passkey_options(garbled.text))
    done = await client.post(
        "/authorize/mfa",
        data={"request": form_token(garbled.text), "credential": json.dumps(answer)},
    )
    assert done.status_code == 303, done.text
    assert done.headers["location"].startswith(REDIRECT_URI)
    exchanged = await client.post(
        "/auth",
        data={
            "grant_type": "authorization_code",
            "code": query_of(done.headers["location"])["code"],
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
            "client_id": shop.client_id,
        },
    )
    assert exchanged.status_code == 200, exchanged.text
    assert claims(exchanged.json()["access_token"])["amr"] == ["pwd", "hwk"]
    assert claims(exchanged.json()["id_token"])["acr"] == "2"
    # The same answer again (its challenge used): refused, never a code.
    replayed = await client.post(
        "/authorize/mfa",
        data={"request": form_token(garbled.text), "credential": json.dumps(answer)},
    )
    assert replayed.status_code != 303
