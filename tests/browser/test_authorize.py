"""Signing in to another app with Tollgate, in real Chromium: the login and consent pages,
a scope left out, the code back at the app, single sign-on the second time, and the
account page's "Apps you have allowed" with Revoke."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.test_page import sign_up
from tests.e2e.server import running_server
from tests.support.authorize import add_client, authorize_url
from tollgate.services.codes import code_id
from tollgate.settings import Settings
from tollgate.store.records import AuthorizationCodeRecord, ClientRecord
from tollgate.store.stores import open_stores


def in_database(database: Path, work):  # type: ignore[no-untyped-def]
    """Run `work(stores)` on the server's database, off Playwright's event loop."""

    async def run():  # type: ignore[no-untyped-def]
        stores = await open_stores(Settings(database_url=f"sqlite+aiosqlite:///{database}"))
        try:
            return await work(stores)
        finally:
            await stores.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result()


@pytest.fixture(scope="module")
def tollgate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    database = tmp_path_factory.mktemp("authorize") / "tollgate.db"
    with running_server(database) as base:
        yield base, database


class Catcher:
    """The app's side, as small as it gets: a local HTTP server on a loopback port (the
    redirect URI registered is http://127.0.0.1:8080/callback; RFC 8252 lets a loopback
    redirect use any port) that answers 200 and records each path it was sent to."""

    def __init__(self) -> None:
        caught: list[str] = []
        self.caught = caught
        pages: dict[str, bytes] = {}
        self.pages = pages  # path -> HTML, for a page other than the callback

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                caught.append(self.path)
                body = pages.get(
                    self.path, b"<!doctype html><title>Photo Shop</title><h1>Photo Shop</h1>"
                )
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.redirect_uri = f"http://127.0.0.1:{self.server.server_port}/callback"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def catcher() -> Iterator[Catcher]:
    running = Catcher()
    yield running
    running.close()


def answer_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_sign_in_consent_with_a_scope_left_out_then_single_sign_on(
    browser: Browser, tollgate: tuple[str, Path], artifacts: Path, catcher: Catcher
) -> None:
    site, database = tollgate
    shop: ClientRecord = in_database(database, lambda s: add_client(s.clients))
    context = browser.new_context(viewport={"width": 390, "height": 844})  # a phone
    page = context.new_page()
    sign_up(page, site, "noor")
    # The account page's login is not the authorization endpoint's: start signed out there.
    context.clear_cookies()

    back = catcher.redirect_uri
    page.goto(
        site + authorize_url(shop, redirect_uri=back, state="first", scope="openid profile email")
    )
    expect(page.get_by_role("heading", name="Log in to continue to Photo Shop")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("Sign up"))).to_have_attribute("href", "/")
    # Keyboard only: type, Tab, type, Enter.
    page.get_by_label("Username").fill("noor")
    page.keyboard.press("Tab")
    page.keyboard.type("violet-harbor-kettle-42")
    page.keyboard.press("Enter")

    expect(
        page.get_by_role("heading", name="Allow Photo Shop to use your Tollgate account?")
    ).to_be_visible()
    openid = page.get_by_role("checkbox", name=re.compile("^openid"))
    expect(openid).to_be_checked()
    expect(openid).to_be_disabled()
    email = page.get_by_role("checkbox", name=re.compile("^email"))
    expect(email).to_be_checked()
    expect(page.get_by_role("checkbox", name=re.compile("^profile"))).to_be_checked()
    page.screenshot(path=str(artifacts / "consent-page.png"), full_page=True)
    email.focus()
    page.keyboard.press("Space")  # unchecked with the keyboard
    expect(email).not_to_be_checked()
    page.get_by_role("button", name="Allow").click()
    expect(page.get_by_role("heading", name="Photo Shop", exact=True)).to_be_visible()

    answer = answer_of(page.url)
    assert page.url.startswith(back + "?")
    assert answer["state"] == "first"
    assert answer["iss"] == site
    code: AuthorizationCodeRecord | None = in_database(
        database, lambda s: s.codes.by_id(code_id(answer["code"]))
    )
    assert code is not None
    assert code.scope == "openid profile"  # email was left out

    # Second sign-in in the same browser: no password, no consent, straight back.
    page.goto(site + authorize_url(shop, redirect_uri=back, state="second", scope="openid profile"))
    expect(page.get_by_role("heading", name="Photo Shop", exact=True)).to_be_visible()
    second = answer_of(page.url)
    assert second["state"] == "second"
    assert second["code"] != answer["code"]
    landed = [urlsplit(u).path for u in catcher.caught if not u.startswith("/favicon")]
    assert landed == ["/callback", "/callback"]
    sso = next(c for c in context.cookies() if c["name"] == "tollgate_sso")
    assert sso["httpOnly"]
    assert sso["sameSite"] == "Lax"
    context.close()


def test_the_account_page_lists_allowed_apps_and_revokes_one(
    browser: Browser, tollgate: tuple[str, Path], catcher: Catcher
) -> None:
    site, database = tollgate
    blog: ClientRecord = in_database(database, lambda s: add_client(s.clients, name="Blog"))
    context = browser.new_context()
    page = context.new_page()
    sign_up(page, site, "omar")
    expect(page.locator("#apps-none")).to_be_visible()
    page.goto(site + authorize_url(blog, redirect_uri=catcher.redirect_uri))
    page.get_by_label("Username").fill("omar")
    page.get_by_label("Password").fill("violet-harbor-kettle-42")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("button", name="Allow").click()
    expect(page.get_by_role("heading", name="Photo Shop", exact=True)).to_be_visible()

    page.goto(site + "/")
    row = page.locator("#allowed-apps li")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Blog")
    expect(row).to_contain_text("email openid profile")
    row.get_by_role("button", name="Revoke Blog").click()
    expect(page.locator("#message")).to_contain_text("Blog can no longer use your account")
    expect(page.locator("#allowed-apps li")).to_have_count(0)
    expect(page.locator("#apps-none")).to_be_visible()
    # The app must ask again.
    page.goto(site + authorize_url(blog, redirect_uri=catcher.redirect_uri))
    expect(page.get_by_role("button", name="Allow")).to_be_visible()
    context.close()


def test_pages_cannot_be_framed(
    browser: Browser, tollgate: tuple[str, Path], catcher: Catcher
) -> None:
    site, database = tollgate
    shop: ClientRecord = in_database(database, lambda s: add_client(s.clients, name="Framed"))
    # Another site (another origin, the catcher's) puts the login page in a frame.
    catcher.pages["/evil"] = f'<iframe id="f" src="{site}{authorize_url(shop)}"></iframe>'.encode()
    context = browser.new_context()
    page: Page = context.new_page()
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "frame" in m.text else None)
    with page.expect_response(lambda r: "/authorize?" in r.url) as framed:
        page.goto(catcher.redirect_uri.replace("/callback", "/evil"))
    assert framed.value.status == 200  # served, and the browser refused to show it
    expect(page.frame_locator("#f").get_by_label("Username")).to_have_count(0)
    page.wait_for_timeout(300)
    expect(page.frame_locator("#f").get_by_label("Username")).to_have_count(0)
    assert any("frame-ancestors" in text or "X-Frame-Options" in text for text in refused)
    context.close()
