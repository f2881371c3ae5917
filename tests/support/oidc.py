"""Helpers for signing in to Tollgate from another app (issue 14), used by the tests and
the benchmark: registering clients and users with the real CLI, and walking
Tollgate's login and consent pages over plain HTTP (posting the forms the pages serve).

The browser tests drive the same pages with Chromium (tests/e2e/test_oidc_*.py); the HTTP
walk here reads the pages' own HTML forms (action, hidden fields such as the CSRF token,
checkboxes), so it goes through the real forms too, minus what only a browser does
(scripts, Content-Security-Policy, SameSite).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from tests.e2e.server import run_cli, running_process

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Registered:
    client_id: str
    client_secret: str | None


def register_client(
    database: Path,
    name: str,
    *,
    redirect_uris: list[str],
    scope: str,
    grants: list[str] | None = None,
    post_logout_redirect_uris: list[str] | None = None,
    public: bool = False,
    trusted: bool = False,
    **settings: str,
) -> Registered:
    """`tollgate clients create NAME ...` (README "Sign in with Tollgate from another app");
    `settings` as for run_cli (e.g. database_url)."""
    args = ["clients", "create", name, "--scope", scope]
    for uri in redirect_uris:
        args += ["--redirect-uri", uri]
    for uri in post_logout_redirect_uris or []:
        args += ["--post-logout-redirect-uri", uri]
    for grant in grants or []:
        args += ["--grant", grant]
    if public:
        args.append("--public")
    if trusted:
        args.append("--trusted")
    done = run_cli(database, *args, **settings)
    assert done.returncode == 0, done.stderr + done.stdout
    printed = dict(
        line.split("=", 1) for line in done.stdout.splitlines() if "=" in line and " " not in line
    )
    if public:
        assert "client_secret" not in printed, done.stdout
    return Registered(printed["client_id"], printed.get("client_secret"))


def create_user(
    database: Path,
    username: str,
    password: str,
    *,
    email: str | None = None,
    scope: str = "",
    **settings: str,
) -> None:
    args = ["users", "create", username, "--password", password]
    if email:
        args += ["--email", email]
    if scope:
        args += ["--scope", scope]
    done = run_cli(database, *args, **settings)
    assert done.returncode == 0, done.stderr + done.stdout


def query(url: str) -> dict[str, str]:
    """The query parameters of a redirect, one value each."""
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@dataclass
class Form:
    action: str
    method: str
    fields: list[tuple[str, str]] = field(default_factory=list)  # hidden, text, password
    checkboxes: list[tuple[str, str, bool]] = field(default_factory=list)  # name, value, on
    buttons: list[tuple[str, str, str]] = field(default_factory=list)  # name, value, label

    def names(self) -> set[str]:
        return {name for name, _ in self.fields}


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._button: list[str] | None = None  # name, value, text so far

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(Form(a.get("action", ""), a.get("method", "get").lower()))
        elif not self.forms:
            return
        elif tag == "input":
            kind = a.get("type", "text").lower()
            if "disabled" in a:
                return  # a browser does not send disabled fields (e.g. the fixed openid box)
            if kind == "checkbox":
                checked = "checked" in a
                self.forms[-1].checkboxes.append((a.get("name", ""), a.get("value", "on"), checked))
            elif kind == "submit":
                value = a.get("value", "Submit")
                self.forms[-1].buttons.append((a.get("name", ""), value, value))
            elif a.get("name"):
                self.forms[-1].fields.append((a["name"], a.get("value", "")))
        elif tag == "button" and a.get("type", "submit").lower() == "submit":
            self._button = [a.get("name", ""), a.get("value", ""), ""]

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._button[2] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "button" and self._button is not None and self.forms:
            name, value, text = self._button
            self.forms[-1].buttons.append((name, value, " ".join(text.split())))
            self._button = None


def forms(html: str) -> list[Form]:
    parser = _FormParser()
    parser.feed(html)
    return parser.forms


def _submit(
    http: httpx.Client, page: httpx.Response, form: Form, data: list[tuple[str, str]]
) -> httpx.Response:
    target = urljoin(str(page.url), form.action or str(page.url))
    assert form.method == "post", form
    # Encoded here: httpx's data= takes a dict, and a form may repeat a name (scope=...).
    return http.post(
        target,
        content=urlencode(data),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


@dataclass
class Walk:
    """Where the walk left Tollgate for the app, and the pages it answered on the way."""

    url: str
    pages: list[str]  # "login", "consent"


def walk_to_redirect(
    http: httpx.Client,
    authorize_url: str,
    redirect_uri: str,
    *,
    username: str,
    password: str,
    allow: bool = True,
    uncheck: tuple[str, ...] = (),
) -> Walk:
    """Open the authorization URL and answer Tollgate's pages like a person would: the
    login form (username, password), the consent form (uncheck `uncheck`, then Allow or
    Deny), following Tollgate's redirects until one leaves for `redirect_uri` (with code
    or error). `http` keeps the cookies (the SSO cookie)."""
    pages: list[str] = []
    response = http.get(authorize_url)
    for _ in range(10):
        if response.is_redirect:
            location = urljoin(str(response.url), response.headers["location"])
            if location.startswith(redirect_uri):
                return Walk(location, pages)
            response = http.get(location)
            continue
        assert response.status_code == 200, (response.status_code, response.text)
        page_forms = [f for f in forms(response.text) if f.method == "post"]
        login = next((f for f in page_forms if {"username", "password"} <= f.names()), None)
        if login is not None:
            data = [(n, v) for n, v in login.fields if n not in ("username", "password")]
            data += [("username", username), ("password", password)]
            pages.append("login")
            response = _submit(http, response, login, data)
            continue
        label = "Allow" if allow else "Deny"
        chosen = [(f, b) for f in page_forms for b in f.buttons if label in (b[1], b[2])]
        assert chosen, f"neither a login form nor a consent page:\n{response.text}"
        consent, button = chosen[0]
        data = list(consent.fields)
        for name, value, checked in consent.checkboxes:
            if checked and value not in uncheck:
                data.append((name, value))
        if button[0]:
            data.append((button[0], button[1]))
        pages.append("consent")
        response = _submit(http, response, consent, data)
    raise AssertionError(f"no redirect to {redirect_uri} after ten pages")


def validated_id_token(
    token: dict[str, Any], *, issuer: str, client_id: str, nonce: str, jwks: dict[str, Any]
) -> dict[str, Any]:
    """The ID token's claims, validated by Authlib the way its OpenID Connect clients do
    (authlib.integrations.base_client OpenIDMixin.parse_id_token): signature against the
    JWKS with joserfc, then CodeIDToken: iss, aud, exp, iat, nonce, azp, at_hash (OIDC
    Core §3.1.3.7) and auth_time."""
    decoded = jwt.decode(
        token["id_token"],
        key=KeySet.import_key_set(jwks),
        registry=JWSRegistry(algorithms=["RS256"]),
    )
    claims = CodeIDToken(
        decoded.claims,
        decoded.header,
        {"iss": {"values": [issuer]}},
        {"nonce": nonce, "client_id": client_id, "access_token": token["access_token"]},
    )
    claims.validate(leeway=5)
    return dict(claims)


@contextmanager
def running_example_app(tollgate: str, client: Registered, port: int, log: Path) -> Iterator[str]:
    """examples/oidc_app as its README runs it (`flask --app examples.oidc_app.app run`),
    signing in at `tollgate` as `client`; yields its base URL."""
    assert client.client_secret is not None
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "OIDC_APP_ISSUER": tollgate,
        "OIDC_APP_CLIENT_ID": client.client_id,
        "OIDC_APP_CLIENT_SECRET": client.client_secret,
    }
    command = [sys.executable, "-m", "flask", "--app", "examples.oidc_app.app", "run"]
    command += ["--port", str(port)]
    base = f"http://127.0.0.1:{port}"
    with running_process(command, env, f"{base}/", log, cwd=ROOT):
        yield base
