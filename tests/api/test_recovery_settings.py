"""Account recovery by email under other settings: no SMTP server configured, SMTP down
at send time and back, TOLLGATE_REQUIRE_VERIFIED_EMAIL, the new sign-in notice."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from tests.conftest import PASSWORD, bearer
from tests.support.smtp import SmtpSink, link_in, text_of
from tollgate.app import create_app
from tollgate.services.passwords import PasswordHasher
from tollgate.settings import Settings


@asynccontextmanager
async def serving(settings: Settings, hasher: PasswordHasher) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, hasher)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app.state.asgi, client=("203.0.113.7", 5555))
        async with httpx.AsyncClient(transport=transport, base_url="http://tollgate.test") as c:
            yield c


async def join(client: httpx.AsyncClient, **extra: Any) -> httpx.Response:
    body = {"username": "minsu", "password": PASSWORD, **extra}
    return await client.post("/join", json=body)


async def test_without_smtp_mail_routes_answer_503_and_the_rest_works(
    make_settings: Callable[..., Settings],
    hasher: PasswordHasher,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="tollgate.mail"):
        async with serving(make_settings(), hasher) as client:
            assert "TOLLGATE_SMTP_URL is not set" in caplog.text
            joined = await join(client, email="minsu@example.org")
            assert joined.status_code == 201
            access = joined.json()["access_token"]
            forgot = await client.post("/password/forgot", json={"username": "minsu"})
            assert forgot.status_code == 503
            assert forgot.json()["error"] == "mail_unavailable"
            resend = await client.post("/email/verify/resend", headers=bearer(access))
            assert (resend.status_code, resend.json()["error"]) == (503, "mail_unavailable")
            changed = await client.post(
                "/email", json={"email": "new@example.org"}, headers=bearer(access)
            )
            assert changed.status_code == 204
            me = (await client.get("/me", headers=bearer(access))).json()
            assert (me["email"], me["email_verified"]) == ("new@example.org", False)
            login = {"username": "minsu", "password": PASSWORD}
            assert (await client.post("/login", json=login)).status_code == 200


async def test_mail_waits_while_smtp_is_down_and_arrives_when_it_is_back(
    make_settings: Callable[..., Settings], hasher: PasswordHasher, smtp: SmtpSink
) -> None:
    settings = make_settings(smtp_url=smtp.url, mail_interval=0.05, mail_first_retry=0.1)
    async with serving(settings, hasher) as client:
        assert (await join(client, email="minsu@example.org")).status_code == 201
        await smtp.arrived(to="minsu@example.org")
        smtp.stop()
        forgot = await client.post("/password/forgot", json={"username": "minsu"})
        assert forgot.status_code == 202  # the request never waits on SMTP
        # The sender tries and fails (counted), and keeps the mail.
        for _ in range(200):
            metrics = (await client.get("/metrics")).text
            if "tollgate_mail_failures_total 2.0" in metrics:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the sender did not retry")
        assert "tollgate_mail_backlog 1.0" in metrics
        smtp.start()
        mails = await smtp.arrived(to="minsu@example.org", count=2)
        assert link_in(mails[-1])[1] == "reset"
        await asyncio.sleep(0.2)
        assert "tollgate_mail_sent_total" in (await client.get("/metrics")).text
        assert len(smtp.messages()) == 2  # sent once


async def test_required_verification_refuses_login_until_the_link_is_opened(
    make_settings: Callable[..., Settings], hasher: PasswordHasher, smtp: SmtpSink
) -> None:
    settings = make_settings(smtp_url=smtp.url, mail_interval=0.05, require_verified_email=True)
    async with serving(settings, hasher) as client:
        without = await join(client)
        assert without.status_code == 422
        assert "email" in without.json()["fields"]
        joined = await join(client, email="minsu@example.org")
        assert joined.status_code == 201
        assert "access_token" not in joined.json()
        assert joined.json()["email_verification"] == "sent"
        login = {"username": "minsu", "password": PASSWORD}
        refused = await client.post("/login", json=login)
        assert refused.status_code == 403
        assert refused.json()["error"] == "email_not_verified"
        grant = await client.post("/auth", data={"grant_type": "password", **login})
        assert (grant.status_code, grant.json()["error"]) == (403, "email_not_verified")
        wrong = await client.post("/login", json={**login, "password": "wrong-password-1"})
        assert wrong.status_code == 401  # only the right password learns it

        [mail] = await smtp.arrived(to="minsu@example.org")
        verified = await client.post("/email/verify", json={"token": link_in(mail)[2]})
        assert verified.status_code == 204
        assert (await client.post("/login", json=login)).status_code == 200


async def test_the_new_sign_in_notice_when_turned_on_and_only_to_verified_addresses(
    make_settings: Callable[..., Settings], hasher: PasswordHasher, smtp: SmtpSink
) -> None:
    settings = make_settings(smtp_url=smtp.url, mail_interval=0.05, notify_new_sign_in=True)
    async with serving(settings, hasher) as client:
        await join(client, email="minsu@example.org")
        login = {"username": "minsu", "password": PASSWORD}
        assert (await client.post("/login", json=login)).status_code == 200
        [verification] = await smtp.arrived(to="minsu@example.org")
        await asyncio.sleep(0.3)
        assert len(smtp.messages()) == 1  # unverified: no notice
        await client.post("/email/verify", json={"token": link_in(verification)[2]})
        assert (
            await client.post("/login", json=login, headers={"User-Agent": "Firefox/140.0"})
        ).status_code == 200
        notice = (await smtp.arrived(to="minsu@example.org", count=2))[-1]
        assert notice["Subject"] == "A new sign-in to tollgate.test"
        assert "Firefox/140.0" in text_of(notice)
        assert "203.0.113.7" in text_of(notice)
