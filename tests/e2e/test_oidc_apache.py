"""An independent relying party: Debian's Apache with mod_auth_openidc protects a page and
signs people in with a real Tollgate, driven by Debian's Chromium (issue 14).

mod_auth_openidc reads the discovery document, sends the browser to /authorize with PKCE
S256, takes the code back (checking `iss`, RFC 9207), exchanges it with
client_secret_basic, validates the ID token against the JWKS, calls /userinfo and logs
out through the end_session_endpoint: every step is its code, not ours.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.conftest import PASSWORD
from tests.e2e.server import run_cli, tollgate_process
from tests.support.apache import Apache, running_apache
from tests.support.chromium import TIMEOUT_MS, consent, launched_chromium, log_in
from tests.support.oidc import create_user, query, register_client


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launched_chromium() as chromium:
        yield chromium


def test_apache_serves_and_sends_strangers_to_tollgate(tmp_path: Path) -> None:
    """No browser: Apache's public page, and its protected page redirecting to Tollgate's
    authorization endpoint with the code flow and PKCE S256."""
    database = tmp_path / "tollgate.db"
    with tollgate_process(database) as (tollgate, _):
        apache = Apache.on_free_port()
        client = register_client(
            database, "Apache site", redirect_uris=[apache.redirect_uri], scope="openid profile"
        )
        assert client.client_secret is not None
        with running_apache(
            apache,
            provider=tollgate,
            client_id=client.client_id,
            client_secret=client.client_secret,
            keep_log=tmp_path / "apache-error.log",
        ):
            public = httpx.get(f"{apache.base}/index.html")
            assert public.status_code == 200
            assert "<h1>Public page</h1>" in public.text
            metadata = httpx.get(f"{tollgate}/.well-known/openid-configuration").json()
            protected = httpx.get(apache.protected)
            assert protected.status_code == 302, (protected.text, apache.error_log())
            location = protected.headers["location"]
            assert location.startswith(metadata["authorization_endpoint"] + "?")
            sent = query(location)
            assert sent["response_type"] == "code"
            assert sent["client_id"] == client.client_id
            assert sent["redirect_uri"] == apache.redirect_uri
            assert set(sent["scope"].split()) == {"openid", "profile", "email"}
            assert sent["code_challenge_method"] == "S256"
            assert len(sent["code_challenge"]) == 43
            assert sent["state"]
            assert sent["nonce"]


def live_sessions(database: Path, username: str) -> str:
    listed = run_cli(database, "sessions", "list", "--user", username)
    assert listed.returncode == 0, listed.stderr
    return listed.stdout


def test_apache_signs_in_shows_claims_and_logs_out(browser: Browser, tmp_path: Path) -> None:
    database = tmp_path / "tollgate.db"
    with tollgate_process(database) as (tollgate, _):
        apache = Apache.on_free_port()
        client = register_client(
            database,
            "Apache site",
            redirect_uris=[apache.redirect_uri],
            post_logout_redirect_uris=[apache.logged_out],
            scope="openid profile email",
        )
        assert client.client_secret is not None
        create_user(database, "amara", PASSWORD, email="amara@example.com")
        with running_apache(
            apache,
            provider=tollgate,
            client_id=client.client_id,
            client_secret=client.client_secret,
            keep_log=tmp_path / "apache-error.log",
        ):
            context = browser.new_context()
            context.set_default_timeout(TIMEOUT_MS)
            page = context.new_page()
            try:
                page.goto(apache.base + "/index.html")
                expect(page.locator("h1")).to_have_text("Public page")  # no sign-in needed

                # The protected page sends the browser to Tollgate's login page.
                page.goto(apache.protected)
                log_in(page, tollgate, "amara", PASSWORD)

                # The consent page names the app and each requested scope; Allow.
                consent(page, tollgate, app="Apache site", scopes=["openid", "profile", "email"])

                # Back on Apache's page, with the claims mod_auth_openidc took from the ID
                # token and /userinfo.
                page.wait_for_url(apache.protected)
                expect(page.locator("#preferred_username")).to_have_text("amara")
                expect(page.locator("#remote_user")).to_have_text("amara")
                expect(page.locator("#email")).to_have_text("amara@example.com")
                expect(page.locator("#iss")).to_have_text(tollgate)
                assert page.locator("#sub").inner_text().strip()
                # The ID token's sid: the browser's Tollgate session, live now.
                sid = page.locator("#sid").inner_text().strip()
                assert sid
                assert sid in live_sessions(database, "amara")

                # Apache keeps its own session: the page opens again without Tollgate.
                page.goto(apache.protected)
                expect(page.locator("#preferred_username")).to_have_text("amara")

                # Log out: Apache ends its session and sends the browser to Tollgate's
                # end_session_endpoint (id_token_hint, post_logout_redirect_uri), which
                # ends the browser's Tollgate session and returns to the registered page.
                page.locator("#logout").click()
                page.wait_for_url(apache.logged_out)
                expect(page.locator("h1")).to_have_text("You are logged out")
                assert sid not in live_sessions(database, "amara")

                # Signed out at both: the protected page asks for the password again.
                page.goto(apache.protected)
                log_in(page, tollgate, "amara", PASSWORD)
                # The consent given before is remembered; straight back to the page.
                page.wait_for_url(apache.protected)
                expect(page.locator("#preferred_username")).to_have_text("amara")
            except Exception as failure:
                page.screenshot(path=str(tmp_path / "apache-failure.png"))
                raise AssertionError(
                    f"{failure}\nat {page.url}:\n{page.content()[:3000]}\n{apache.error_log()}"
                ) from failure
            finally:
                context.close()
