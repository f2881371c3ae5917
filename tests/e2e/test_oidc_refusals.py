"""The refusals RFC 9700 §4 asks of an authorization server, against a real Tollgate over
HTTP (issue 14): PKCE downgrade, redirect URI mismatch and open redirection, code
injection, mix-up (`iss`), CSRF on the login and consent forms, clickjacking, and
`prompt=none` without a session. Each refusal beside the same request done right, so
that a test cannot pass because nothing works."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urljoin

import httpx
import pytest

from tests.conftest import OTHER_PASSWORD, PASSWORD
from tests.e2e.server import free_port, tollgate_process
from tests.support.authorize import pkce
from tests.support.oidc import (
    Registered,
    create_user,
    forms,
    query,
    register_client,
    walk_to_redirect,
)

CALLBACK = f"http://127.0.0.1:{free_port()}/callback"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
EVIL = "https://evil.example/steal"


@dataclass
class Server:
    base: str
    metadata: dict[str, Any]
    app: Registered
    other: Registered
    public: Registered
    target: Registered  # allowed by nobody: the consent CSRF test's own


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    database = tmp_path_factory.mktemp("oidc-refusals") / "tollgate.db"
    with tollgate_process(database) as (base, _):
        app = register_client(database, "App", redirect_uris=[CALLBACK], scope="openid profile")
        other = register_client(
            database, "Other app", redirect_uris=[CALLBACK], scope="openid profile"
        )
        public = register_client(
            database, "Native app", redirect_uris=[CALLBACK], scope="openid", public=True
        )
        target = register_client(
            database, "Target app", redirect_uris=[CALLBACK], scope="openid", public=True
        )
        create_user(database, "victim", PASSWORD)
        create_user(database, "attacker", OTHER_PASSWORD)
        metadata = httpx.get(f"{base}/.well-known/openid-configuration").json()
        yield Server(base, metadata, app, other, public, target)


def authorize_url(server: Server, client: Registered, **overrides: str) -> tuple[str, str]:
    """An authorization request done right (and its code_verifier), with overrides; a
    value of "" leaves the parameter out."""
    verifier, challenge = pkce()
    params = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": CALLBACK,
        "scope": "openid profile",
        "state": secrets.token_urlsafe(8),
        "nonce": secrets.token_urlsafe(8),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    kept = {k: v for k, v in params.items() if v != ""}
    return f"{server.metadata['authorization_endpoint']}?{urlencode(kept)}", verifier


def exchange(
    server: Server, client: Registered, code: str, verifier: str, redirect_uri: str = CALLBACK
) -> httpx.Response:
    auth = (client.client_id, client.client_secret) if client.client_secret else None
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
    }
    if auth is None:
        data["client_id"] = client.client_id
    return httpx.post(server.metadata["token_endpoint"], data=data, auth=auth)


@contextmanager
def signed_in(server: Server) -> Iterator[httpx.Client]:
    """A browser (cookie jar) logged in to Tollgate as victim, having allowed App and
    Other app."""
    with httpx.Client() as http:
        for client in (server.app, server.other):
            url, _ = authorize_url(server, client)
            walk_to_redirect(http, url, CALLBACK, username="victim", password=PASSWORD)
        yield http


def code_for(server: Server, http: httpx.Client, client: Registered) -> tuple[str, str]:
    url, verifier = authorize_url(server, client)
    walk = walk_to_redirect(http, url, CALLBACK, username="victim", password=PASSWORD)
    return query(walk.url)["code"], verifier


def test_pkce_is_required_and_only_s256(server: Server) -> None:
    with signed_in(server) as http:
        for overrides in (
            {"code_challenge_method": "plain"},
            {"code_challenge": "", "code_challenge_method": ""},
            {"code_challenge_method": ""},
        ):
            url, _ = authorize_url(server, server.app, state="s1", **overrides)
            refused = http.get(url)
            assert refused.status_code in (302, 303), (overrides, refused.text)
            back = query(refused.headers["location"])
            assert refused.headers["location"].startswith(CALLBACK)
            assert back["error"] == "invalid_request", overrides
            assert back["state"] == "s1"
            assert back["iss"] == server.metadata["issuer"]  # RFC 9207, on errors too
            assert "code" not in back
        url, _ = authorize_url(server, server.app)
        assert "code" in query(http.get(url).headers["location"])  # done right: a code


def test_no_redirect_to_an_unregistered_uri_ever(server: Server) -> None:
    with signed_in(server) as http:
        cases: list[dict[str, str]] = [
            {"redirect_uri": EVIL},
            {"redirect_uri": CALLBACK + "/more"},
            {"redirect_uri": CALLBACK + "?next=" + EVIL},
            {"redirect_uri": EVIL, "code_challenge_method": "plain"},  # two errors at once
            {"redirect_uri": EVIL, "prompt": "none"},
            {"client_id": "no-such-client"},
            {"client_id": "no-such-client", "redirect_uri": EVIL},
        ]
        for overrides in cases:
            url, _ = authorize_url(server, server.app, **overrides)
            answer = http.get(url)
            assert 400 <= answer.status_code < 500, (overrides, answer.status_code)
            assert "location" not in answer.headers, overrides
            assert EVIL not in answer.text


def test_loopback_redirects_may_use_any_port(server: Server) -> None:
    """RFC 8252 §7.3: a native app listens on whatever loopback port is free."""
    elsewhere = f"http://127.0.0.1:{free_port()}/callback"
    with signed_in(server) as http:
        url, verifier = authorize_url(server, server.public, redirect_uri=elsewhere)
        walk = walk_to_redirect(http, url, elsewhere, username="victim", password=PASSWORD)
        code = query(walk.url)["code"]
        assert exchange(server, server.public, code, verifier, elsewhere).status_code == 200


def test_code_injection_is_refused(server: Server) -> None:
    """A code works only for its client, redirect URI and PKCE verifier."""
    with signed_in(server) as http:
        code, verifier = code_for(server, http, server.app)
        stolen = exchange(server, server.other, code, verifier)  # another client
        assert stolen.status_code == 400
        assert stolen.json()["error"] == "invalid_grant"

        code, verifier = code_for(server, http, server.app)
        _, other_verifier = pkce()
        wrong = exchange(server, server.app, code, other_verifier)  # injected, no verifier
        assert wrong.status_code == 400
        assert wrong.json()["error"] == "invalid_grant"

        code, verifier = code_for(server, http, server.app)
        moved = exchange(server, server.app, code, verifier, CALLBACK + "/other")
        assert moved.status_code == 400
        assert moved.json()["error"] == "invalid_grant"

        code, verifier = code_for(server, http, server.app)
        right = exchange(server, server.app, code, verifier)
        assert right.status_code == 200, right.text
        assert "id_token" in right.json()


def test_prompt_none_without_a_session(server: Server) -> None:
    with httpx.Client() as stranger:
        url, _ = authorize_url(server, server.app, prompt="none", state="quiet")
        answer = stranger.get(url)
        assert answer.status_code in (302, 303), answer.text
        back = query(answer.headers["location"])
        assert answer.headers["location"].startswith(CALLBACK)
        assert back["error"] == "login_required"
        assert back["state"] == "quiet"
        assert back["iss"] == server.metadata["issuer"]
    with signed_in(server) as http:  # with a session and consent: a code, no page
        url, _ = authorize_url(server, server.app, prompt="none")
        assert "code" in query(http.get(url).headers["location"])


def first_page(http: httpx.Client, url: str) -> httpx.Response:
    answer = http.get(url, follow_redirects=True)
    assert answer.status_code == 200, answer.text
    return answer


def consent_page_after_login(
    http: httpx.Client, url: str, username: str, password: str
) -> httpx.Response:
    """Log in on the login page of this authorization request; the consent page."""
    page = first_page(http, url)
    login = next(f for f in forms(page.text) if {"username", "password"} <= f.names())
    fields = [(n, v) for n, v in login.fields if n not in ("username", "password")]
    fields += [("username", username), ("password", password)]
    target = urljoin(str(page.url), login.action or str(page.url))
    consent = http.post(target, content=urlencode(fields), headers=FORM, follow_redirects=True)
    assert any(b[2] == "Allow" for f in forms(consent.text) for b in f.buttons), consent.text
    return consent


# Where a forged post comes from, as the victim's browser names it in Origin: the
# attacker's site, or "null" (an opaque origin: a sandboxed frame, a no-referrer page).
FORGED_ORIGINS = ["https://evil.example", "null"]


def forged_post(
    http: httpx.Client,
    page: httpx.Response,
    action: str,
    fields: list[tuple[str, str]],
    origin: str,
) -> httpx.Response:
    return http.post(
        urljoin(str(page.url), action or str(page.url)),
        content=urlencode(fields),
        headers={**FORM, "Origin": origin},
    )


def no_code(answer: httpx.Response) -> None:
    assert "code=" not in answer.headers.get("location", ""), (answer.status_code, answer.headers)


def test_the_consent_form_is_csrf_protected(server: Server) -> None:
    """The attacker's consent form (the attacker's CSRF token in it) posted by the
    victim's browser, which sends the victim's cookies: no code, no consent recorded."""
    url, _ = authorize_url(server, server.target, scope="openid")
    with signed_in(server) as victim, httpx.Client() as attacker:
        page = consent_page_after_login(attacker, url, "attacker", OTHER_PASSWORD)
        consent = next(f for f in forms(page.text) if any(b[2] == "Allow" for b in f.buttons))
        allow = next(b for b in consent.buttons if b[2] == "Allow")
        fields = list(consent.fields) + [(n, v) for n, v, on in consent.checkboxes if on]
        if allow[0]:
            fields.append((allow[0], allow[1]))
        for origin in FORGED_ORIGINS:
            no_code(forged_post(victim, page, consent.action, fields, origin))
        # Nothing was allowed in the victim's name: the consent page is still asked.
        again = first_page(victim, url)
        assert any(b[2] == "Allow" for f in forms(again.text) for b in f.buttons)


def test_the_login_form_is_csrf_protected(server: Server) -> None:
    """Login CSRF: the attacker's login form with the attacker's credentials, posted by
    the victim's browser, must not log the victim's browser in as the attacker."""
    url, _ = authorize_url(server, server.app)
    with httpx.Client() as victim, httpx.Client() as attacker:
        page = first_page(attacker, url)
        login = next(f for f in forms(page.text) if {"username", "password"} <= f.names())
        fields = [(n, v) for n, v in login.fields if n not in ("username", "password")]
        fields += [("username", "attacker"), ("password", OTHER_PASSWORD)]
        for origin in FORGED_ORIGINS:
            no_code(forged_post(victim, page, login.action, fields, origin))
        # The victim's browser is not logged in: Tollgate still asks for a password.
        assert 'name="password"' in first_page(victim, url).text


def frames_refused(page: httpx.Response) -> bool:
    csp = page.headers.get("content-security-policy", "")
    return "frame-ancestors 'none'" in csp or page.headers.get("x-frame-options") == "DENY"


def test_pages_refuse_framing(server: Server) -> None:
    url, _ = authorize_url(server, server.public, scope="openid")
    with httpx.Client() as http:
        login = first_page(http, url)
        assert 'name="password"' in login.text
        assert frames_refused(login), login.headers
    with httpx.Client() as http:
        consent = consent_page_after_login(http, url, "attacker", OTHER_PASSWORD)
        assert frames_refused(consent), consent.headers
