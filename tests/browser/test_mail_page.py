"""The account page in Chromium with a real SMTP server: "Forgot password?", the mail
read from the server, its link opened, the reset form, and a login with the new password;
and the verify page a verification link opens."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.conftest import PASSWORD
from tests.e2e.server import running_server
from tests.support.smtp import SmtpSink, link_in

NEW_PASSWORD = "copper-lantern-meadow-58"


@pytest.fixture(scope="module")
def sink(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmtpSink]:
    smtp = SmtpSink(tmp_path_factory.mktemp("mail") / "box").start()
    yield smtp
    smtp.stop()


@pytest.fixture(scope="module")
def mail_site(tmp_path_factory: pytest.TempPathFactory, sink: SmtpSink) -> Iterator[str]:
    database = tmp_path_factory.mktemp("browser-mail") / "tollgate.db"
    with running_server(database, smtp_url=sink.url, mail_interval="0.1") as base:
        yield base


def test_forgot_password_through_the_mail_to_a_new_password(
    browser: Browser, mail_site: str, sink: SmtpSink, artifacts: Path
) -> None:
    joined = httpx.post(
        f"{mail_site}/join",
        json={"username": "grace", "password": PASSWORD, "email": "grace@example.org"},
    )
    assert joined.status_code == 201
    context = browser.new_context()
    page = context.new_page()
    page.goto(mail_site + "/")
    page.get_by_role("link", name="Forgot password?").click()
    form = page.locator("#forgot-form")
    form.get_by_label("Email or username").fill("grace@example.org")
    form.get_by_role("button", name="Send reset link").click()
    expect(page.locator("#message")).to_contain_text("a reset link is on its way")

    mail = next(m for m in sink.wait(to="grace@example.org", count=2) if link_in(m)[1] == "reset")
    link, _, token = link_in(mail)
    assert link.startswith(mail_site + "/#reset=")
    # A fresh tab, as a person clicking the link in their mail program.
    tab = context.new_page()
    tab.goto(link)
    expect(tab.get_by_role("heading", name="Choose a new password")).to_be_visible()
    assert token not in tab.url  # the page took the token out of the address bar
    tab.locator("#reset-form").get_by_label("New password").fill(NEW_PASSWORD)
    tab.get_by_role("button", name="Set new password").click()
    expect(tab.locator("#message")).to_contain_text("Your new password is set")
    tab.screenshot(path=str(artifacts / "reset-done.png"))

    login = tab.locator("#login-form")
    login.get_by_label("Username").fill("grace")
    login.get_by_label("Password").fill(NEW_PASSWORD)
    login.get_by_role("button", name="Log in").click()
    expect(tab.locator("#who")).to_have_text("Signed in as grace")
    # The reset link proved the address.
    expect(tab.locator("#profile-email")).to_have_text("grace@example.org (verified)")
    context.close()


def test_a_verification_link_opens_the_verify_page(
    browser: Browser, mail_site: str, sink: SmtpSink
) -> None:
    joined = httpx.post(
        f"{mail_site}/join",
        json={"username": "hopper", "password": PASSWORD, "email": "hopper@example.org"},
    )
    assert joined.status_code == 201
    [mail] = sink.wait(to="hopper@example.org")
    link, kind, _ = link_in(mail)
    assert kind == "verify"
    context = browser.new_context()
    page = context.new_page()
    page.goto(link)
    expect(page.get_by_role("heading", name="Confirm your email address")).to_be_visible()
    page.get_by_role("button", name="Confirm email address").click()
    expect(page.locator("#message")).to_contain_text("Your email address is confirmed")
    login = httpx.post(
        f"{mail_site}/login", json={"username": "hopper@example.org", "password": PASSWORD}
    )
    assert login.status_code == 200  # a verified address logs in
    context.close()
