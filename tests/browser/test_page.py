"""The account page in a real browser: sign up, stay logged in, reload, tabs, log out."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import jwt
from playwright.sync_api import Browser, Page, expect

from tests.conftest import OTHER_PASSWORD, PASSWORD, bearer

SIGNED_IN = re.compile(r"Signed in as ")


def wait_until(page: Page, condition: Callable[[], bool], what: str) -> None:
    """Let the page run (its timers, its requests) until the condition holds.

    Each wait returns at the page's next response; the page refreshes every 1.6 s with
    2-second tokens, so a condition about refreshes is re-checked at least that often.
    """
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, f"not reached in 60 s: {what}"
        page.wait_for_event("response", timeout=60_000)


def track(page: Page, path: str) -> list[int]:
    """The statuses of the page's responses from `path`, as they come."""
    statuses: list[int] = []
    page.on("response", lambda r: statuses.append(r.status) if r.url.endswith(path) else None)
    return statuses


def sign_up(page: Page, site: str, name: str) -> None:
    page.goto(site + "/")
    expect(page.get_by_role("heading", name="Sign up")).to_be_visible()
    form = page.locator("#join-form")
    form.get_by_label("Username").fill(name)
    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_role("button", name="Create account").click()
    expect(page.locator("#who")).to_have_text(f"Signed in as {name}")


def log_in(page: Page, site: str, name: str, password: str = PASSWORD) -> None:
    page.goto(site + "/")
    form = page.locator("#login-form")
    form.get_by_label("Username").fill(name)
    form.get_by_label("Password").fill(password)
    form.get_by_role("button", name="Log in").click()


def test_stays_logged_in_through_expiries_and_reloads(
    browser: Browser, site: str, artifacts: Path
) -> None:
    context = browser.new_context()
    page = context.new_page()
    me_calls = track(page, "/me")
    refreshes = track(page, "/refresh")
    sign_up(page, site, "ada")
    # The refresh token is in an HttpOnly cookie the page cannot read.
    cookie = next(c for c in context.cookies() if c["name"] == "__Host-tollgate-refresh")
    assert cookie["httpOnly"]
    assert cookie["secure"]
    assert cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie").find("tollgate-refresh") == -1

    # Three refreshes, 1.6 s apart, span more than two 2-second access lifetimes.
    after_sign_up = len(refreshes)
    wait_until(page, lambda: len(refreshes) >= after_sign_up + 3, "three timed refreshes")
    shown = len(me_calls)
    wait_until(page, lambda: len(me_calls) > shown, "the account shown after the refresh")
    expect(page.locator("#who")).to_have_text("Signed in as ada")
    expect(page.locator("#profile-username")).to_have_text("ada")
    assert set(refreshes[after_sign_up:]) == {200}  # (the one on first load had no cookie)
    assert len(me_calls) >= 4  # the page kept checking in as tokens expired
    assert all(status == 200 for status in me_calls[-3:])

    page.reload()
    expect(page.locator("#who")).to_have_text("Signed in as ada")
    page.screenshot(path=str(artifacts / "account-page.png"), full_page=True)

    page.get_by_role("button", name="Log out", exact=True).click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    expect(page.locator("#message")).to_have_text("You are logged out.")
    page.reload()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    context.close()


def test_two_tabs_refreshing_together_stay_logged_in(browser: Browser, site: str) -> None:
    context = browser.new_context()
    first = context.new_page()
    sign_up(first, site, "bea")
    second = context.new_page()
    second.goto(site + "/")
    expect(second.locator("#who")).to_have_text("Signed in as bea")
    refreshes = {page: track(page, "/refresh") for page in (first, second)}
    # Both tabs refresh at the same moment with the same cookie: one rotates it, the
    # other is a replay within the reuse interval and gets the same new pair.
    for _ in range(3):
        before = {page: len(statuses) for page, statuses in refreshes.items()}
        with first.expect_event("load"), second.expect_event("load"):
            for page in (first, second):  # reloading refreshes on load, in both at once
                page.evaluate("setTimeout(() => location.reload(), 0)")
        for page in (first, second):
            wait_until(page, lambda p=page, b=before: len(refreshes[p]) > b[p], "refresh on load")
            expect(page.locator("#who")).to_have_text("Signed in as bea")
    # And their own timers keep going past more expiries: two more refreshes each.
    for page in (first, second):
        count = len(refreshes[page])
        wait_until(page, lambda p=page, n=count: len(refreshes[p]) >= n + 2, "timed refreshes")
    assert all(set(statuses) == {200} for statuses in refreshes.values()), refreshes
    for page in (first, second):
        page.reload()
        expect(page.locator("#who")).to_have_text("Signed in as bea")
    context.close()


def test_session_ended_elsewhere_logs_the_page_out(browser: Browser, site: str) -> None:
    laptop = browser.new_context()
    page = laptop.new_page()
    sign_up(page, site, "cyd")
    phone = browser.new_context()
    other = phone.new_page()
    log_in(other, site, "cyd")
    expect(other.locator("#who")).to_have_text("Signed in as cyd")
    # The phone ends the laptop's session from its list.
    laptop_row = other.locator("#sessions li").filter(has_not_text="this browser")
    expect(laptop_row).to_have_count(1)
    laptop_row.get_by_role("button", name=re.compile("End session")).click()
    expect(other.locator("#message")).to_have_text("Session ended.")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible(timeout=10_000)
    expect(page.locator("#message")).to_contain_text("session has ended")
    laptop.close()
    phone.close()


def test_error_messages(browser: Browser, site: str) -> None:
    context = browser.new_context()
    page = context.new_page()
    sign_up(page, site, "dee")
    page.get_by_role("button", name="Log out", exact=True).click()

    log_in(page, site, "dee", "not-the-password")
    expect(page.locator("#message")).to_have_text("Wrong username or password.")

    form = page.locator("#join-form")
    form.get_by_label("Username").fill("DEE")
    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_role("button", name="Create account").click()
    expect(page.locator("#message")).to_have_text("That username is taken.")

    form.get_by_label("Username").fill("eve")
    form.get_by_label("Password").fill("password123")
    form.get_by_role("button", name="Create account").click()
    # The server's sentence as it is, without a "password:" prefix.
    expect(page.locator("#message")).to_have_text(re.compile(r"^This password is too easy"))

    form.get_by_label("Username").fill("eve adams")
    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_role("button", name="Create account").click()
    expect(page.locator("#message")).to_have_text("A username cannot contain spaces.")

    for _ in range(5):  # the account+address limit is 5 failures a minute
        # Each answer before the next try: the next try's page load would cancel a login
        # still in flight (seen on a loaded machine), and it would then not count.
        with page.expect_response(lambda r: r.url.endswith("/login")):
            log_in(page, site, "dee", "still-wrong-1")
    expect(page.locator("#message")).to_have_text(
        re.compile(r"Too many attempts\. Try again in \d+ seconds\.")
    )
    context.close()


def test_change_password_logs_out_other_sessions(browser: Browser, site: str) -> None:
    context = browser.new_context()
    page = context.new_page()
    sign_up(page, site, "fay")
    other = httpx.post(f"{site}/login", json={"username": "fay", "password": PASSWORD}).json()
    form = page.locator("#password-form")
    form.get_by_label("Current password").fill(PASSWORD)
    form.get_by_label("New password").fill(OTHER_PASSWORD)
    form.get_by_role("button", name="Change password").click()
    expect(page.locator("#message")).to_have_text(
        "Password changed. Your other sessions were logged out."
    )
    assert httpx.get(f"{site}/me", headers=bearer(other["access_token"])).status_code == 401
    expect(page.locator("#who")).to_have_text("Signed in as fay")
    page.get_by_role("button", name="Log out everywhere").click()
    expect(page.locator("#message")).to_have_text("You are logged out everywhere.")
    context.close()


def test_phone_width_and_keyboard(browser: Browser, site: str, artifacts: Path) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    page.goto(site + "/")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    # Every input has a label, and nothing is wider than the phone.
    for field in page.locator("input").all():
        assert field.evaluate("el => el.labels.length") >= 1
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    # Keyboard only: tab into the sign-up form, type, press Enter.
    page.locator("#join-username").focus()
    page.keyboard.type("gus")
    page.keyboard.press("Tab")  # email
    page.keyboard.press("Tab")  # password
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.locator("#who")).to_have_text("Signed in as gus")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(artifacts / "account-page-390px.png"), full_page=True)
    context.close()


def test_page_can_be_turned_off(tmp_path: Path) -> None:
    from tests.e2e.server import running_server

    with running_server(tmp_path / "noui.db", ui="false") as base:
        assert httpx.get(f"{base}/").status_code == 404
        assert httpx.get(f"{base}/ui/app.js").status_code == 404


def test_the_page_binds_its_tokens_to_a_key_of_this_browser(browser: Browser, site: str) -> None:
    context = browser.new_context()
    page = context.new_page()
    sent: list[dict[str, str]] = []
    page.on("request", lambda r: sent.append(r.headers) if r.url.endswith("/me") else None)
    sign_up(page, site, "dora")
    wait_until(page, lambda: bool(sent), "the account read with the access token")
    scheme, access = sent[-1]["authorization"].split(" ", 1)
    assert scheme == "DPoP"
    assert "dpop" in sent[-1]
    jkt = jwt.decode(access, options={"verify_signature": False})["cnf"]["jkt"]
    assert jkt
    # The private key stays inside WebCrypto: IndexedDB holds it non-extractable.
    extractable = page.evaluate(
        """() => new Promise((resolve) => {
            const opening = indexedDB.open("tollgate-dpop", 1);
            opening.onsuccess = () => {
                const get = opening.result.transaction("keys").objectStore("keys").get("dpop");
                get.onsuccess = () => resolve(get.result.privateKey.extractable);
            };
        })"""
    )
    assert extractable is False
    # A copy of the token is useless outside this browser.
    assert httpx.get(f"{site}/me", headers=bearer(access)).status_code == 401
    # Reloads and other tabs use the same key and stay signed in.
    page.reload()
    expect(page.locator("#who")).to_have_text("Signed in as dora")
    other = context.new_page()
    other_sent: list[dict[str, str]] = []
    other.on("request", lambda r: other_sent.append(r.headers) if r.url.endswith("/me") else None)
    other.goto(site + "/")
    expect(other.locator("#who")).to_have_text("Signed in as dora")
    other_access = other_sent[-1]["authorization"].split(" ", 1)[1]
    assert jwt.decode(other_access, options={"verify_signature": False})["cnf"]["jkt"] == jkt
    context.close()
