"""The API docs pages in a real browser with every request off this machine refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Route, expect


class Offline:
    """A browser context that may reach 127.0.0.1 only, and what the page tried besides."""

    def __init__(self, context: BrowserContext) -> None:
        self.context = context
        self.refused: list[str] = []
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []
        context.route("**/*", self.allow_loopback_only)

    def allow_loopback_only(self, route: Route) -> None:
        url = route.request.url
        if urlsplit(url).hostname == "127.0.0.1" or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            self.refused.append(url)
            route.abort("internetdisconnected")

    def new_page(self) -> Page:
        page = self.context.new_page()
        page.on("console", self.on_console)
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        return page

    def on_console(self, message: ConsoleMessage) -> None:
        # A CSP violation is reported as a console error.
        if message.type == "error":
            self.console_errors.append(message.text)

    def assert_clean(self, blocked_by_csp: tuple[str, ...] = ()) -> None:
        """Nothing went out, nothing failed; the only console errors are our CSP refusing
        the given URLs (a refusal before any request is made)."""
        assert self.refused == []
        assert self.page_errors == []
        expected = [f"Loading the image '{url}' violates" for url in blocked_by_csp]
        assert len(self.console_errors) == len(expected), self.console_errors
        for error, start in zip(self.console_errors, expected, strict=True):
            assert error.startswith(start), error


@pytest.fixture
def offline(browser: Browser) -> Iterator[Offline]:
    context = browser.new_context()
    yield Offline(context)
    context.close()


def test_swagger_ui_lists_the_operations_offline(
    offline: Offline, site: str, artifacts: Path
) -> None:
    page = offline.new_page()
    page.goto(site + "/docs")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Tollgate")
    login = "POST /login Exchange a username and password for a token pair"
    expect(page.get_by_role("button", name=login)).to_be_visible()
    health = page.get_by_role("button", name="GET /health Liveness")
    expect(health).to_be_visible()
    # Try it out, against this server: the page's own script may call the API.
    health.click()
    page.get_by_role("button", name="Try it out").click()
    page.get_by_role("button", name="Execute").click()
    live = page.locator(".live-responses-table td.response-col_status:not(.col_header)")
    expect(live).to_have_text("200")
    page.screenshot(path=str(artifacts / "docs-swagger.png"))
    offline.assert_clean()


def test_redoc_renders_the_reference_offline(offline: Offline, site: str, artifacts: Path) -> None:
    page = offline.new_page()
    page.goto(site + "/redoc")
    expect(page.locator("h1").first).to_contain_text("Tollgate")
    expect(page.get_by_role("heading", name="Liveness")).to_be_visible()
    expect(
        page.get_by_role("heading", name="Exchange a username and password for a token pair")
    ).to_be_visible()
    page.screenshot(path=str(artifacts / "docs-redoc.png"))
    # ReDoc's sidebar shows its maker's logo from their CDN; the CSP stops it (and ReDoc
    # then leaves it out).
    offline.assert_clean(blocked_by_csp=("https://cdn.redoc.ly/redoc/logo-mini.svg",))
