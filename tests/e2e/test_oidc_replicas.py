"""Signing in from another app across two replicas on one PostgreSQL (README "Replicas"):
nothing of the sign-in lives in one process. The login and consent pages of one replica,
the code exchanged at the other, single sign-on and refresh through either, and logging
out through one ending the sign-in at both."""

from __future__ import annotations

import secrets
from pathlib import Path
from urllib.parse import urlencode

import httpx

from tests.conftest import PASSWORD
from tests.e2e.server import free_port, tollgate_process
from tests.support.authorize import pkce
from tests.support.oidc import create_user, query, register_client, walk_to_redirect
from tests.support.postgres import PostgresServer

CALLBACK = f"http://127.0.0.1:{free_port()}/callback"
LOGGED_OUT = CALLBACK.replace("/callback", "/logged-out")
USER = "noor"


def authorize(base: str, client_id: str) -> tuple[str, str]:
    verifier, challenge = pkce()
    query_string = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": CALLBACK,
            "scope": "openid profile",
            "state": secrets.token_urlsafe(8),
            "nonce": secrets.token_urlsafe(8),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    return f"{base}/authorize?{query_string}", verifier


def exchange(base: str, client_id: str, secret: str, code: str, verifier: str) -> httpx.Response:
    return httpx.post(
        f"{base}/auth",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": verifier,
        },
        auth=(client_id, secret),
    )


def test_sign_in_across_replicas(tmp_path: Path, postgres: PostgresServer) -> None:
    url = postgres.new_database()
    database = tmp_path / "unused.db"  # every process uses the PostgreSQL database
    with tollgate_process(database, database_url=url) as (a, _):
        # One issuer for both, as behind a load balancer.
        with tollgate_process(database, database_url=url, issuer=a) as (b, _):
            app = register_client(
                database,
                "App",
                redirect_uris=[CALLBACK],
                post_logout_redirect_uris=[LOGGED_OUT],
                scope="openid profile",
                database_url=url,
            )
            assert app.client_secret is not None
            secret = app.client_secret
            create_user(database, USER, PASSWORD, database_url=url)

            with httpx.Client() as browser:
                # The pages on A; the code exchanged at B.
                start, verifier = authorize(a, app.client_id)
                walk = walk_to_redirect(browser, start, CALLBACK, username=USER, password=PASSWORD)
                assert walk.pages == ["login", "consent"]
                first = exchange(b, app.client_id, secret, query(walk.url)["code"], verifier)
                assert first.status_code == 200, first.text

                # Single sign-on through B, exchanged at A: no page at all.
                start, verifier = authorize(b, app.client_id)
                walk = walk_to_redirect(browser, start, CALLBACK, username=USER, password="-")
                assert walk.pages == []
                second = exchange(a, app.client_id, secret, query(walk.url)["code"], verifier)
                assert second.status_code == 200, second.text

                # A's refresh token at B.
                refreshed = httpx.post(
                    f"{b}/auth",
                    data={
                        "grant_type": "refresh_token",
                        "refresh_token": second.json()["refresh_token"],
                    },
                    auth=(app.client_id, secret),
                )
                assert refreshed.status_code == 200, refreshed.text

                # Log out through B with the ID token A issued: the sign-in ends for both.
                out = browser.get(
                    f"{b}/end-session",
                    params={
                        "id_token_hint": second.json()["id_token"],
                        "post_logout_redirect_uri": LOGGED_OUT,
                        "state": "bye",
                    },
                )
                assert out.status_code in (302, 303), out.text
                assert query(out.headers["location"])["state"] == "bye"
                start, _ = authorize(a, app.client_id)
                walk = walk_to_redirect(browser, start, CALLBACK, username=USER, password=PASSWORD)
                assert walk.pages == ["login"]  # the password again; the consent remembered
