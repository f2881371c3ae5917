"""examples/oidc_app run as its README says, beside a real Tollgate, used through Chromium:
deny, sign in with the optional scope left out (its resource answers 403), sign out
through Tollgate's end-session endpoint, sign in again with every scope (200)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import PASSWORD
from tests.e2e.server import free_port, run_cli, tollgate_process
from tests.support.chromium import TIMEOUT_MS, consent, launched_chromium, log_in
from tests.support.oidc import create_user, register_client, running_example_app

SCOPES = ["openid", "profile", "email", "notes:read"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launched_chromium() as chromium:
        yield chromium


def claim(page: Page, name: str) -> str:
    return page.locator(f'dd[data-claim="{name}"]').inner_text()


def scopes(page: Page) -> set[str]:
    return set(page.locator("#scopes").inner_text().split())


def test_the_example_app(browser: Browser, tmp_path: Path) -> None:
    database = tmp_path / "tollgate.db"
    port = free_port()
    app = f"http://127.0.0.1:{port}"
    with tollgate_process(database) as (tollgate, _):
        client = register_client(
            database,
            "Notes app",
            redirect_uris=[f"{app}/callback"],
            post_logout_redirect_uris=[f"{app}/logged-out"],
            scope=" ".join(SCOPES),
        )
        create_user(database, "tomas", PASSWORD, email="tomas@example.com", scope="notes:read")
        described = run_cli(database, "scopes", "describe", "notes:read", "Read your notes")
        assert described.returncode == 0, described.stderr
        with running_example_app(tollgate, client, port, tmp_path / "app.log"):
            context = browser.new_context()
            context.set_default_timeout(TIMEOUT_MS)
            page = context.new_page()
            try:
                page.goto(app)
                # Deny: the app is told so and nobody is signed in.
                page.locator("#sign-in").click()
                log_in(page, tollgate, "tomas", PASSWORD)
                expect(page.get_by_role("button", name="Deny")).to_be_visible()
                page.get_by_role("button", name="Deny").click()
                expect(page.locator("#message")).to_have_text("Not signed in: access_denied")

                # Again: logged in to Tollgate already (no password), the consent page
                # again (nothing was allowed); leave the optional scope out.
                page.locator("#sign-in").click()
                # The operator's words for the scope label its checkbox.
                expect(page.locator("body")).to_contain_text("Read your notes")
                consent(page, tollgate, app="Notes app", scopes=SCOPES, uncheck=("notes:read",))
                page.wait_for_url(f"{app}/")
                expect(page.locator("#greeting")).to_contain_text("tomas")
                assert claim(page, "preferred_username") == "tomas"
                assert claim(page, "email") == "tomas@example.com"
                assert claim(page, "iss") == tollgate
                assert scopes(page) == {"openid", "profile", "email"}
                expect(page.locator("#notes-status")).to_have_text("403")
                expect(page.locator("#notes-body")).to_contain_text("insufficient_scope")

                # Sign out: the app, then Tollgate's end-session, then back to the app.
                page.locator("#sign-out").click()
                page.wait_for_url(f"{app}/")
                expect(page.locator("#message")).to_have_text(
                    "Signed out of the app and of Tollgate."
                )

                # Signed out of Tollgate too: the password again. The app now asks for
                # more than was allowed before, so the consent page again; allow all.
                page.locator("#sign-in").click()
                log_in(page, tollgate, "tomas", PASSWORD)
                consent(page, tollgate, app="Notes app", scopes=SCOPES)
                page.wait_for_url(f"{app}/")
                assert scopes(page) == set(SCOPES)
                expect(page.locator("#notes-status")).to_have_text("200")
                expect(page.locator("#notes-body")).to_contain_text("A note of tomas")
            except Exception as failure:
                page.screenshot(path=str(tmp_path / "example-failure.png"))
                message = f"{failure}\nat {page.url}:\n{page.content()[:3000]}"
                raise AssertionError(message) from failure
            finally:
                context.close()
