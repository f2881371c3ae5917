"""Account recovery by email through the HTTP API, in process, with the app's own outbox
sender and a real SMTP server process: the contract's answers, the same answer for
unknown accounts, every session ending at a reset, verification, login by address,
TOLLGATE_REQUIRE_VERIFIED_EMAIL, notices, limits, and no 500 for anything a client sends.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pyotp
import pytest

from tests.conftest import OTHER_PASSWORD, PASSWORD, bearer
from tests.support.smtp import SmtpSink, link_in, text_of
from tollgate.app import create_app
from tollgate.services.passwords import PasswordHasher
from tollgate.settings import Settings

NEW_PASSWORD = "copper-lantern-meadow-58"
VOLATILE = {"date", "content-length", "x-request-id"}


@pytest.fixture
def settings(make_settings: Callable[..., Settings], smtp: SmtpSink) -> Settings:
    # No reuse interval: a refresh token presented twice is theft at once.
    return make_settings(
        smtp_url=smtp.url, mail_interval=0.05, mail_first_retry=0.2, refresh_reuse_interval=0
    )


async def join(
    client: httpx.AsyncClient, name: str = "minsu", email: str | None = "minsu@example.org"
) -> dict[str, Any]:
    body: dict[str, Any] = {"username": name, "password": PASSWORD}
    if email is not None:
        body["email"] = email
    response = await client.post("/join", json=body)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def verify_by_mail(
    client: httpx.AsyncClient, smtp: SmtpSink, to: str, count: int = 1
) -> None:
    message = (await smtp.arrived(to=to, count=count))[-1]
    _, kind, token = link_in(message)
    assert kind == "verify"
    response = await client.post("/email/verify", json={"token": token})
    assert response.status_code == 204, response.text


def headers_of(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k not in VOLATILE}


async def test_forgot_answers_the_same_for_known_and_unknown_accounts(
    client: httpx.AsyncClient, smtp: SmtpSink
) -> None:
    await join(client)
    answers = [
        await client.post("/password/forgot", json=body)
        for body in (
            {"email": "minsu@example.org"},
            {"email": "nobody@example.org"},
            {"username": "minsu"},
            {"username": "nobody"},
        )
    ]
    for answer in answers:
        assert answer.status_code == 202
        assert answer.content == answers[0].content
        assert headers_of(answer) == headers_of(answers[0])
    assert answers[0].json() == {
        "message": "If that account exists and has an email address, a reset link is on its way."
    }
    mails = await smtp.arrived(to="minsu@example.org", count=3)  # the join's, and two resets
    assert sorted(link_in(m)[1] for m in mails) == ["reset", "reset", "verify"]


async def test_reset_through_the_api_ends_every_session(
    client: httpx.AsyncClient, smtp: SmtpSink
) -> None:
    joined = await join(client)
    old_access, old_refresh = joined["access_token"], joined["refresh_token"]
    assert (await client.post("/password/forgot", json={"username": "minsu"})).status_code == 202
    resets = [m for m in await smtp.arrived(count=2) if link_in(m)[1] == "reset"]
    token = link_in(resets[0])[2]

    response = await client.post(
        "/password/reset", json={"token": token, "new_password": NEW_PASSWORD}
    )
    assert response.status_code == 204, response.text
    assert (await client.get("/me", headers=bearer(old_access))).status_code == 401
    assert (await client.post("/refresh", json={"refresh_token": old_refresh})).status_code == 401
    login = await client.post("/login", json={"username": "minsu", "password": NEW_PASSWORD})
    assert login.status_code == 200
    me = (await client.get("/me", headers=bearer(login.json()["access_token"]))).json()
    assert me["email_verified"] is True  # the reset link proved the address

    again = await client.post(
        "/password/reset", json={"token": token, "new_password": OTHER_PASSWORD}
    )
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_token"
    unknown = await client.post(
        "/password/reset", json={"token": "x" * 43, "new_password": OTHER_PASSWORD}
    )
    assert (unknown.status_code, unknown.json()["error"]) == (400, "invalid_token")


async def test_the_same_password_policy_applies_to_a_reset(
    client: httpx.AsyncClient, smtp: SmtpSink
) -> None:
    await join(client)
    await client.post("/password/forgot", json={"email": "minsu@example.org"})
    token = next(link_in(m)[2] for m in await smtp.arrived(count=2) if link_in(m)[1] == "reset")
    weak = await client.post("/password/reset", json={"token": token, "new_password": "minsu123"})
    assert weak.status_code == 422
    assert set(weak.json()["fields"]) == {"new_password"}
    ok = await client.post("/password/reset", json={"token": token, "new_password": NEW_PASSWORD})
    assert ok.status_code == 204


async def test_verification_shows_in_me_and_the_address_logs_in(
    client: httpx.AsyncClient, smtp: SmtpSink
) -> None:
    joined = await join(client, email="Minsu@Example.org")
    access = joined["access_token"]
    assert joined["user"]["email_verified"] is False
    # An unverified address names no account at login.
    by_address = {"username": "minsu@example.org", "password": PASSWORD}
    assert (await client.post("/login", json=by_address)).status_code == 401

    await verify_by_mail(client, smtp, "minsu@example.org")
    me = (await client.get("/me", headers=bearer(access))).json()
    assert (me["email"], me["email_verified"]) == ("Minsu@example.org", True)
    assert (await client.post("/login", json=by_address)).status_code == 200
    grant = {"grant_type": "password", **by_address}
    assert (await client.post("/auth", data=grant)).status_code == 200
    resend = await client.post("/email/verify/resend", headers=bearer(access))
    assert (resend.status_code, resend.json()["error"]) == (409, "already_verified")


async def test_an_address_verified_by_one_account_cannot_be_verified_by_another(
    client: httpx.AsyncClient, smtp: SmtpSink
) -> None:
    await join(client, "minsu", "minsu@example.org")
    await verify_by_mail(client, smtp, "minsu@example.org")
    await join(client, "other", "MINSU@example.org")
    message = (await smtp.arrived(to="minsu@example.org", count=2))[-1]
    taken = await client.post("/email/verify", json={"token": link_in(message)[2]})
    assert taken.status_code == 409
    assert taken.json()["error"] == "email_taken"


async def test_change_email_then_resend_and_verify(
    client: httpx.AsyncClient, smtp: SmtpSink
) -> None:
    access = (await join(client, email=None))["access_token"]
    changed = await client.post("/email", json={"email": "new@example.org"}, headers=bearer(access))
    assert changed.status_code == 204
    resent = await client.post("/email/verify/resend", headers=bearer(access))
    assert resent.status_code == 202
    mails = await smtp.arrived(to="new@example.org", count=2)
    assert all("new@example.org" in text_of(m) for m in mails)
    await verify_by_mail(client, smtp, "new@example.org", count=2)
    me = (await client.get("/me", headers=bearer(access))).json()
    assert (me["email"], me["email_verified"]) == ("new@example.org", True)
    assert (await client.post("/email", json={"email": "x@example.org"})).status_code == 401


@pytest.mark.parametrize(
    ("route", "body", "field"),
    [
        ("/password/forgot", {}, "body"),
        ("/password/forgot", {"email": "a@example.org", "username": "a"}, "body"),
        ("/password/forgot", {"email": "not an address"}, "email"),
        ("/password/forgot", {"email": "a" * 400 + "@example.org"}, "email"),
        ("/password/forgot", {"username": "\ud800"}, "username"),
        ("/password/forgot", {"username": ["minsu"]}, "username"),
        ("/password/reset", {"token": "t"}, "new_password"),
        ("/password/reset", {"token": "t" * 600, "new_password": NEW_PASSWORD}, "token"),
        ("/password/reset", {"token": "\udfff", "new_password": NEW_PASSWORD}, "token"),
        ("/email/verify", {"token": ""}, "token"),
        ("/email/verify", {"token": 5}, "token"),
        ("/email/verify", [], "body"),
    ],
)
async def test_bad_input_is_a_422_naming_the_field(
    client: httpx.AsyncClient, route: str, body: Any, field: str
) -> None:
    # json.dumps escapes lone surrogates (\ud800) as JSON can; httpx's encoder cannot.
    response = await client.post(
        route, content=json.dumps(body), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid_request"
    assert field in response.json()["fields"]


async def test_odd_unicode_and_odd_tokens_are_answered_not_crashed(
    client: httpx.AsyncClient,
) -> None:
    for body in (
        {"username": "m\u0301insu\u200d"},
        {"username": "\u202eusnim"},
        {"email": "\u00fcser@\u00e9xample.test"},
        {"email": "a@[127.0.0.1]"},
    ):
        answer = await client.post("/password/forgot", json=body)
        assert answer.status_code in (202, 422), answer.text
    for token in ("\x00", "é" * 100, "../../etc/passwd", "%00"):
        answer = await client.post("/email/verify", json={"token": token})
        assert answer.status_code in (400, 422), answer.text
    huge = await client.post(
        "/password/forgot",
        content=b'{"email": "' + b"a" * 70_000 + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert huge.status_code == 413


async def test_forgot_is_limited_per_address_without_saying_so(
    smtp: SmtpSink, client: httpx.AsyncClient
) -> None:
    await join(client, email=None)
    login = await client.post("/login", json={"username": "minsu", "password": PASSWORD})
    access = login.json()["access_token"]
    await client.post("/email", json={"email": "minsu@example.org"}, headers=bearer(access))
    for _ in range(7):
        answer = await client.post("/password/forgot", json={"email": "minsu@example.org"})
        assert answer.status_code == 202
    await smtp.arrived(to="minsu@example.org", count=6)  # the verification and 5 resets
    # Past the limit nothing more comes (the sender, every 50 ms, would have sent it).
    await asyncio.sleep(0.5)
    assert len(smtp.messages()) == 6


async def test_a_password_change_mails_a_notice_to_a_verified_address(
    client: httpx.AsyncClient, smtp: SmtpSink
) -> None:
    access = (await join(client))["access_token"]
    await verify_by_mail(client, smtp, "minsu@example.org")
    changed = await client.post(
        "/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=bearer(access),
    )
    assert changed.status_code == 204
    notice = (await smtp.arrived(to="minsu@example.org", count=2))[-1]
    assert notice["Subject"] == "Your password on tollgate.test was changed"
    assert "203.0.113.7" in text_of(notice)


async def test_refresh_token_reuse_mails_a_notice(
    client: httpx.AsyncClient, smtp: SmtpSink
) -> None:
    joined = await join(client)
    await verify_by_mail(client, smtp, "minsu@example.org")
    first = joined["refresh_token"]
    assert (await client.post("/refresh", json={"refresh_token": first})).status_code == 200
    # The same token again is theft (no reuse interval here): its session ends.
    reused = await client.post("/refresh", json={"refresh_token": first})
    assert reused.status_code == 401
    notice = (await smtp.arrived(to="minsu@example.org", count=2))[-1]
    assert "used twice" in text_of(notice)


async def test_the_address_and_the_username_share_one_lockout(
    make_settings: Callable[..., Settings], smtp: SmtpSink, hasher: PasswordHasher
) -> None:
    """Typing the verified address instead of the name does not double the allowance."""
    settings = make_settings(smtp_url=smtp.url, mail_interval=0.05, account_lockout_failures=4)
    app = create_app(settings, hasher)

    def from_address(ip: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(ip, 1234))
        return httpx.AsyncClient(transport=transport, base_url="http://tollgate.test")

    async with app.router.lifespan_context(app):
        async with from_address("203.0.113.50") as home:
            await join(home)
            await verify_by_mail(home, smtp, "minsu@example.org")
        answers = []
        names = ["minsu", "minsu@example.org", "Minsu", "MINSU@example.org", "minsu"]
        for i, name in enumerate(names):
            # Each try from another address: only the per-account count fills.
            async with from_address(f"192.0.2.{i + 1}") as attacker:
                wrong = {"username": name, "password": "wrong-wrong-wrong"}
                answers.append((await attacker.post("/login", json=wrong)).status_code)
    assert answers == [401, 401, 401, 401, 429]


async def test_adding_and_removing_a_second_factor_mails_a_notice(
    client: httpx.AsyncClient, smtp: SmtpSink
) -> None:
    access = (await join(client))["access_token"]
    await verify_by_mail(client, smtp, "minsu@example.org")
    started = await client.post("/mfa/totp", json={"password": PASSWORD}, headers=bearer(access))
    assert started.status_code == 200, started.text
    code = pyotp.TOTP(started.json()["secret"]).now()
    confirmed = await client.post("/mfa/totp/confirm", json={"code": code}, headers=bearer(access))
    assert confirmed.status_code == 200, confirmed.text

    added = (await smtp.arrived(to="minsu@example.org", count=2))[-1]
    assert added["Subject"] == "A second factor of your account on tollgate.test changed"
    assert "An authenticator app was set up as a second factor" in text_of(added)
    assert "203.0.113.7" in text_of(added)

    removed = await client.request(
        "DELETE", "/mfa/totp", json={"password": PASSWORD}, headers=bearer(access)
    )
    assert removed.status_code == 204, removed.text
    notice = (await smtp.arrived(to="minsu@example.org", count=3))[-1]
    assert "The authenticator app was removed as a second factor" in text_of(notice)
