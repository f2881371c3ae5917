"""Second factors on the account page in Debian's Chromium (issue 18), with the DevTools
virtual authenticator (CTAP2, internal, resident keys, user verification): add a passkey,
log out, log in with it alone; set up an authenticator app from its QR code; then a
password login asks for the second step, answered with a code and with the passkey."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyotp
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.test_authorize import Catcher, answer_of, in_database
from tests.browser.test_page import sign_up
from tests.conftest import PASSWORD
from tests.conftest import token_claims as claims
from tests.e2e.server import TOLLGATE, free_port, running_process, tollgate_env
from tests.support.authorize import add_client, authorize_url
from tollgate.services.codes import code_id
from tollgate.store.records import AuthorizationCodeRecord, ClientRecord


@contextmanager
def serving_localhost(folder: Path, **settings: str) -> Iterator[str]:
    """A real `tollgate serve` whose issuer is http://localhost:PORT."""
    database = folder / "tollgate.db"
    port = free_port()
    base = f"http://localhost:{port}"
    env = tollgate_env(database, issuer=base, **settings)
    command = [*TOLLGATE, "serve", "--port", str(port), "--log-level", "warning"]
    with running_process(
        command, env, f"http://127.0.0.1:{port}/health", database.with_suffix(".log")
    ):
        yield base


@pytest.fixture(scope="module")
def localhost_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Tollgate whose issuer is http://localhost:PORT: a secure context for Chromium, and
    the relying party id WebAuthn checks (`localhost`)."""
    with serving_localhost(tmp_path_factory.mktemp("passkeys")) as base:
        yield base


def now() -> datetime:
    return datetime.now(UTC)


def virtual_authenticator(page: Page) -> None:
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )


def log_out(page: Page) -> None:
    page.get_by_role("button", name="Log out", exact=True).click()
    expect(page.locator("#message")).to_have_text("You are logged out.")


def password_step(page: Page, name: str) -> None:
    form = page.locator("#login-form")
    form.get_by_label("Username").fill(name)
    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_role("button", name="Log in", exact=True).click()
    expect(page.get_by_role("heading", name="Second step")).to_be_visible()


def amr_of(page: Page, path: str, act: Any) -> list[str]:
    with page.expect_response(lambda r: r.url.endswith(path) and r.request.method == "POST") as r:
        act()
    answer = r.value
    assert answer.status == 200, answer.text()
    amr: list[str] = claims(answer.json()["access_token"])["amr"]
    return amr


def test_passkeys_and_an_authenticator_app_on_the_account_page(
    browser: Browser, localhost_site: str, artifacts: Path
) -> None:
    context = browser.new_context()
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    try:
        virtual_authenticator(page)
        sign_up(page, localhost_site, "ari")

        # Add a passkey, log out, log in with it alone.
        page.get_by_label("Name of a new passkey").fill("This laptop")
        page.get_by_role("button", name="Add a passkey").click()
        expect(page.locator("#message")).to_contain_text("Passkey added")
        expect(page.locator("#passkeys")).to_contain_text("This laptop")
        log_out(page)
        amr = amr_of(
            page,
            "/webauthn/login",
            lambda: page.get_by_role("button", name="Log in with a passkey").click(),
        )
        assert amr == ["hwk"]
        expect(page.locator("#who")).to_have_text("Signed in as ari")

        # An authenticator app, from the QR code (shown under the page's CSP).
        page.get_by_label("Your password").fill(PASSWORD)
        page.get_by_role("button", name="Set up an authenticator app").click()
        qr = page.get_by_alt_text("QR code of the authenticator app's secret")
        expect(qr).to_be_visible()
        deadline = time.monotonic() + 10
        while not qr.evaluate("img => img.complete && img.naturalWidth > 0"):
            assert time.monotonic() < deadline, "the QR code did not load"
            page.wait_for_timeout(100)
        secret = page.locator("#totp-secret").inner_text()
        totp = pyotp.TOTP(secret)
        page.get_by_label("The code your app shows now").fill(totp.now())
        page.get_by_role("button", name="Confirm").click()
        expect(page.locator("#recovery-codes li")).to_have_count(10)
        codes = page.locator("#recovery-codes code").all_inner_texts()
        assert all(re.fullmatch(r"[a-z2-7]{5}-[a-z2-7]{5}", c) for c in codes)
        expect(page.locator("#mfa-status")).to_contain_text("Authenticator app: on.")

        # The password alone is not enough: a code finishes the login.
        log_out(page)
        password_step(page, "ari")
        page.get_by_label("Code from your authenticator app").fill(totp.at(time.time() + 30))
        amr = amr_of(
            page, "/login/mfa", lambda: page.get_by_role("button", name="Continue").click()
        )
        assert amr == ["pwd", "otp"]
        expect(page.locator("#who")).to_have_text("Signed in as ari")

        # ... or the passkey, as the second factor.
        log_out(page)
        password_step(page, "ari")
        amr = amr_of(
            page,
            "/webauthn/login",
            lambda: page.get_by_role("button", name="Use a passkey instead").click(),
        )
        assert amr == ["pwd", "hwk"]
        expect(page.locator("#who")).to_have_text("Signed in as ari")

        # A recovery code, once.
        log_out(page)
        password_step(page, "ari")
        page.get_by_label("Or a recovery code").fill(codes[0])
        page.get_by_role("button", name="Continue").click()
        expect(page.locator("#who")).to_have_text("Signed in as ari")
        assert not [p for p in problems if "Content Security Policy" in p], problems
        assert not [p for p in problems if "Uncaught" in p or "Error" in p], problems
    except Exception:
        page.screenshot(path=str(artifacts / "passkeys-failure.png"))
        raise
    finally:
        context.close()


def test_a_required_factor_is_set_up_at_the_first_login(
    browser: Browser, tmp_path: Path, artifacts: Path
) -> None:
    context = browser.new_context()
    page = context.new_page()
    try:
        with serving_localhost(tmp_path, require_mfa="true") as site:
            sign_up(page, site, "bora")
            log_out(page)
            form = page.locator("#login-form")
            form.get_by_label("Username").fill("bora")
            form.get_by_label("Password").fill(PASSWORD)
            form.get_by_role("button", name="Log in", exact=True).click()
            expect(page.get_by_role("heading", name="Set up a second factor")).to_be_visible()
            secret = page.locator("#enrol-secret")
            expect(secret).not_to_be_empty()
            totp = pyotp.TOTP(secret.inner_text())
            page.get_by_label("The code the new app shows").fill(totp.now())
            amr = amr_of(
                page,
                "/mfa/totp/confirm",
                lambda: page.get_by_role("button", name="Confirm and log in").click(),
            )
            assert amr == ["pwd", "otp"]
            expect(page.locator("#who")).to_have_text("Signed in as bora")
            expect(page.locator("#recovery-codes li")).to_have_count(10)
            expect(page.locator("#mfa-status")).to_contain_text("required")
    except Exception:
        page.screenshot(path=str(artifacts / "passkeys-enrolment-failure.png"))
        raise
    finally:
        context.close()


@pytest.fixture
def app_side() -> Iterator[Catcher]:
    running = Catcher()
    yield running
    running.close()


def test_a_passkey_is_the_second_step_when_another_app_signs_in(
    browser: Browser, tmp_path: Path, artifacts: Path, app_side: Catcher
) -> None:
    """An account whose only factor is a passkey signs in to another app: the
    authorization endpoint's second-step page asks the passkey (its script, under its
    CSP), and the app gets its code."""
    context = browser.new_context()
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    try:
        with serving_localhost(tmp_path) as site:
            shop: ClientRecord = in_database(
                tmp_path / "tollgate.db", lambda s: add_client(s.clients, trusted=True)
            )
            virtual_authenticator(page)
            sign_up(page, site, "sol")
            page.get_by_role("button", name="Add a passkey").click()
            expect(page.locator("#passkeys")).to_contain_text("Passkey")
            log_out(page)

            page.goto(site + authorize_url(shop, redirect_uri=app_side.redirect_uri))
            page.get_by_label("Username").fill("sol")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            expect(
                page.get_by_role("heading", name="Second step: continue to Photo Shop")
            ).to_be_visible()
            expect(page.get_by_label("Code from your authenticator app")).to_have_count(0)
            page.get_by_role("button", name="Use a passkey").click()
            expect(page.get_by_role("heading", name="Photo Shop", exact=True)).to_be_visible()
            answer = answer_of(page.url)
            assert page.url.startswith(app_side.redirect_uri + "?")
            code: AuthorizationCodeRecord | None = in_database(
                tmp_path / "tollgate.db", lambda s: s.codes.by_id(code_id(answer["code"]))
            )
            assert code is not None
            session = in_database(
                tmp_path / "tollgate.db", lambda s: s.sessions.live(code.login_session_id, now())
            )
            assert session is not None
            assert session.amr == "pwd hwk"
        assert not [p for p in problems if "Content Security Policy" in p], problems
    except Exception:
        page.screenshot(path=str(artifacts / "authorize-passkey-failure.png"))
        raise
    finally:
        context.close()
