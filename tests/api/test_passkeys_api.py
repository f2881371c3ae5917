"""Passkeys through the API (issue 18) with a software authenticator that makes the real
CTAP2 bytes (tests/support/authenticator.py): register, sign in without a password, as
the second factor, counters, user verification, single-use challenges, and no 500 for
anything a client sends."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import ISSUER, PASSWORD, bearer, join
from tests.conftest import token_claims as claims
from tests.support.authenticator import SoftPasskey, b64url
from tollgate.app import create_app
from tollgate.services.passwords import PasswordHasher
from tollgate.settings import Settings
from tollgate.store.records import AuditQuery

RP_ID = "tollgate.test"


async def register(
    client: httpx.AsyncClient, access_token: str, name: str = "Laptop"
) -> tuple[SoftPasskey, dict[str, Any]]:
    passkey = SoftPasskey(RP_ID, ISSUER)
    options = await client.post("/webauthn/register/options", headers=bearer(access_token))
    assert options.status_code == 200, options.text
    body = options.json()
    assert body["rp"] == {"id": RP_ID, "name": "Tollgate"}
    assert body["authenticatorSelection"]["residentKey"] == "required"
    assert body["authenticatorSelection"]["userVerification"] == "required"
    done = await client.post(
        "/webauthn/register",
        json={"credential": passkey.create(body), "name": name},
        headers=bearer(access_token),
    )
    assert done.status_code == 201, done.text
    return passkey, done.json()


async def passwordless(
    client: httpx.AsyncClient, passkey: SoftPasskey, **changes: Any
) -> httpx.Response:
    options = await client.post("/webauthn/login/options", json={})
    assert options.status_code == 200, options.text
    assert options.json()["allowCredentials"] == []
    assert options.json()["userVerification"] == "required"
    return await client.post(
        "/webauthn/login", json={"credential": passkey.get(options.json(), **changes)}
    )


async def test_register_and_sign_in_without_a_password(client: httpx.AsyncClient) -> None:
    tokens = await join(client)
    _, listed_one = await register(client, tokens["access_token"])
    passkey, _ = await register(client, tokens["access_token"], "Phone")
    factors = (await client.get("/mfa", headers=bearer(tokens["access_token"]))).json()
    assert [p["name"] for p in factors["passkeys"]] == ["Laptop", "Phone"]
    assert factors["passkeys"][0]["id"] == listed_one["id"]

    answer = await passwordless(client, passkey)
    assert answer.status_code == 200, answer.text
    access = claims(answer.json()["access_token"])
    assert access["amr"] == ["hwk"]
    assert access["acr"] == "2"
    assert access["username"] == "minsu"
    refreshed = await client.post(
        "/refresh", json={"refresh_token": answer.json()["refresh_token"]}
    )
    assert claims(refreshed.json()["access_token"])["amr"] == ["hwk"]


async def test_a_passkey_is_the_second_factor_after_the_password(
    client: httpx.AsyncClient,
) -> None:
    tokens = await join(client)
    passkey, _ = await register(client, tokens["access_token"])
    step = await client.post("/login", json={"username": "minsu", "password": PASSWORD})
    assert step.status_code == 403
    assert step.json()["methods"] == ["webauthn"]
    mfa_token = step.json()["mfa_token"]
    options = await client.post("/webauthn/login/options", json={"mfa_token": mfa_token})
    allowed = options.json()["allowCredentials"]
    assert [c["id"] for c in allowed] == [b64url(passkey.credential_id)]
    credential = passkey.get(options.json())
    # The options of a second step are not a passwordless sign-in.
    alone = await client.post("/webauthn/login", json={"credential": credential})
    assert alone.status_code == 401
    options = await client.post("/webauthn/login/options", json={"mfa_token": mfa_token})
    done = await client.post(
        "/webauthn/login",
        json={"credential": passkey.get(options.json()), "mfa_token": mfa_token},
    )
    assert done.status_code == 200, done.text
    assert claims(done.json()["access_token"])["amr"] == ["pwd", "hwk"]


async def test_another_users_passkey_is_no_second_factor(client: httpx.AsyncClient) -> None:
    mine = await join(client)
    await register(client, mine["access_token"])
    theirs = await join(client, "jiwoo")
    stranger, _ = await register(client, theirs["access_token"])
    step = await client.post("/login", json={"username": "minsu", "password": PASSWORD})
    mfa_token = step.json()["mfa_token"]
    options = (await client.post("/webauthn/login/options", json={"mfa_token": mfa_token})).json()
    options["allowCredentials"] = []  # the stranger's authenticator answers anyway
    refused = await client.post(
        "/webauthn/login", json={"credential": stranger.get(options), "mfa_token": mfa_token}
    )
    assert refused.status_code == 401


async def test_a_challenge_is_answered_once(client: httpx.AsyncClient) -> None:
    tokens = await join(client)
    passkey, _ = await register(client, tokens["access_token"])
    options = (await client.post("/webauthn/login/options", json={})).json()
    credential = passkey.get(options)
    assert (
        await client.post("/webauthn/login", json={"credential": credential})
    ).status_code == 200
    again = await client.post("/webauthn/login", json={"credential": credential})
    assert again.status_code == 401
    assert "challenge" in again.json()["error_description"]


async def test_a_counter_that_does_not_grow_is_refused(client: httpx.AsyncClient) -> None:
    tokens = await join(client)
    passkey, _ = await register(client, tokens["access_token"])
    assert (await passwordless(client, passkey, count_up=5)).status_code == 200
    passkey.sign_count -= 3  # a clone with an older counter
    cloned = await passwordless(client, passkey)
    assert cloned.status_code == 401


async def test_user_verification_origin_and_rp_are_checked(client: httpx.AsyncClient) -> None:
    tokens = await join(client)
    passkey, _ = await register(client, tokens["access_token"])
    passkey.verifies_user = False
    assert (await passwordless(client, passkey)).status_code == 401
    passkey.verifies_user = True
    assert (await passwordless(client, passkey, origin="https://evil.example")).status_code == 401
    # Registration from another origin is refused too.
    other = SoftPasskey(RP_ID, "https://evil.example")
    options = (
        await client.post("/webauthn/register/options", headers=bearer(tokens["access_token"]))
    ).json()
    refused = await client.post(
        "/webauthn/register",
        json={"credential": other.create(options)},
        headers=bearer(tokens["access_token"]),
    )
    assert refused.status_code == 400
    wrong_rp = SoftPasskey("evil.example", ISSUER)
    options = (
        await client.post("/webauthn/register/options", headers=bearer(tokens["access_token"]))
    ).json()
    options["rp"]["id"] = "evil.example"
    refused = await client.post(
        "/webauthn/register",
        json={"credential": wrong_rp.create(options)},
        headers=bearer(tokens["access_token"]),
    )
    assert refused.status_code == 400


@pytest.mark.parametrize(
    "credential",
    [
        {},
        {"id": "!!", "response": {"clientDataJSON": "%%%"}},
        {"id": "AAAA", "rawId": "AAAA", "response": "nope"},
        {"id": "AAAA", "response": {"clientDataJSON": b64url(b"[1, 2]")}},
        {"id": "AAAA", "response": {"clientDataJSON": b64url(b'{"challenge": 5}')}},
        {"id": 7, "response": {"clientDataJSON": b64url(b'{"challenge": "abc"}')}},
        {"id": "A" * 5000, "response": {"clientDataJSON": b64url(b'{"challenge": "abc"}')}},
    ],
)
async def test_malformed_answers_are_refused_never_a_500(
    client: httpx.AsyncClient, credential: dict[str, Any]
) -> None:
    tokens = await join(client)
    login = await client.post("/webauthn/login", json={"credential": credential})
    assert login.status_code == 401, login.text
    registration = await client.post(
        "/webauthn/register",
        json={"credential": credential},
        headers=bearer(tokens["access_token"]),
    )
    assert registration.status_code == 400, registration.text


async def test_a_valid_challenge_with_broken_bytes_is_refused_never_a_500(
    client: httpx.AsyncClient,
) -> None:
    tokens = await join(client)
    passkey, _ = await register(client, tokens["access_token"])
    for damage in ("authenticatorData", "signature"):
        options = (await client.post("/webauthn/login/options", json={})).json()
        credential = passkey.get(options)
        credential["response"][damage] = "AAAA"
        answer = await client.post("/webauthn/login", json={"credential": credential})
        assert answer.status_code == 401, answer.text
    options = (
        await client.post("/webauthn/register/options", headers=bearer(tokens["access_token"]))
    ).json()
    credential = SoftPasskey(RP_ID, ISSUER).create(options)
    credential["response"]["attestationObject"] = b64url(b"\xff\x00garbage")
    broken = await client.post(
        "/webauthn/register",
        json={"credential": credential},
        headers=bearer(tokens["access_token"]),
    )
    assert broken.status_code == 400, broken.text
    not_a_dict = await client.post("/webauthn/login", json={"credential": "text"})
    assert not_a_dict.status_code == 422


async def test_the_same_passkey_twice_and_removal(client: httpx.AsyncClient, app: FastAPI) -> None:
    tokens = await join(client)
    auth = bearer(tokens["access_token"])
    passkey, listed = await register(client, tokens["access_token"])
    options = (await client.post("/webauthn/register/options", headers=auth)).json()
    assert [c["id"] for c in options["excludeCredentials"]] == [b64url(passkey.credential_id)]
    twice = await client.post(
        "/webauthn/register", json={"credential": passkey.create(options)}, headers=auth
    )
    assert twice.status_code == 409
    wrong = await client.request(
        "DELETE", f"/mfa/webauthn/{listed['id']}", json={"password": "wrong one!"}, headers=auth
    )
    assert wrong.status_code == 401
    odd = await client.request(
        "DELETE", "/mfa/webauthn/not-an-id", json={"password": PASSWORD}, headers=auth
    )
    assert odd.status_code == 404
    gone = await client.request(
        "DELETE", f"/mfa/webauthn/{listed['id']}", json={"password": PASSWORD}, headers=auth
    )
    assert gone.status_code == 204
    assert (await passwordless(client, passkey)).status_code == 401
    login = await client.post("/login", json={"username": "minsu", "password": PASSWORD})
    assert login.status_code == 200
    events = await app.state.services.audit.events(AuditQuery())
    names = [(e.event, e.detail) for e in events]
    assert ("mfa_enrolled", "webauthn") in names
    assert ("mfa_removed", "webauthn") in names


async def test_passwordless_sign_in_keeps_the_verified_address_rule(
    client: httpx.AsyncClient,
    make_settings: Callable[..., Settings],
    hasher: PasswordHasher,
) -> None:
    """A passkey registered before TOLLGATE_REQUIRE_VERIFIED_EMAIL was turned on does not
    get around it (the same database, served with the setting on)."""
    tokens = await join(client)
    passkey, _ = await register(client, tokens["access_token"])
    strict = create_app(make_settings(require_verified_email=True), hasher)
    transport = httpx.ASGITransport(app=strict, client=("203.0.113.7", 5555))
    async with (
        strict.router.lifespan_context(strict),
        httpx.AsyncClient(transport=transport, base_url="http://tollgate.test") as other,
    ):
        answer = await passwordless(other, passkey)
    assert answer.status_code == 403, answer.text
    assert answer.json()["error"] == "email_not_verified"
    assert "access_token" not in answer.json()
