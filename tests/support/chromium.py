"""Debian's Chromium through Playwright, on Tollgate's login and consent pages (issue 14)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.browser.conftest import CHROMIUM_ARGS, chromium_path

# A shared, busy machine: a page that takes a while to load still counts.
TIMEOUT_MS = 30_000


@contextmanager
def launched_chromium() -> Iterator[Browser]:
    """One Chromium for a test module (module scope: Playwright's sync API runs its own
    event loop, which must be gone before other modules' asyncio tests run)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def log_in(page: Page, tollgate: str, username: str, password: str) -> None:
    """On Tollgate's login page (the form with username and password): log in."""
    expect(page.locator("input[name=password]")).to_be_visible()
    assert page.url.startswith(tollgate), page.url
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.locator("input[name=password]").press("Enter")


def consent(
    page: Page, tollgate: str, *, app: str, scopes: list[str], uncheck: tuple[str, ...] = ()
) -> None:
    """On Tollgate's consent page: it names the app and has one checkbox per scope (its
    value the scope's name), checked by default; uncheck some, then Allow."""
    allow = page.get_by_role("button", name="Allow")
    expect(allow).to_be_visible()
    assert page.url.startswith(tollgate), page.url
    expect(page.locator("body")).to_contain_text(app)
    expect(page.get_by_role("button", name="Deny")).to_be_visible()
    for scope in scopes:
        box = page.locator(f'input[type=checkbox][value="{scope}"]')
        expect(box).to_have_count(1)
        expect(box).to_be_checked()
    for scope in uncheck:
        page.locator(f'input[type=checkbox][value="{scope}"]').uncheck()
    allow.click()
