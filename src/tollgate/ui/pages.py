"""The authorization endpoint's pages (login, consent, logout, errors): server-rendered
HTML in the account page's style, no script but one file for the passkey step.

Jinja2 renders them with autoescaping on: every value shown (an app's name, a scope's
description, a login hint) comes from someone other than the reader.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from fastapi.responses import FileResponse, HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

TEMPLATES = Path(__file__).with_name("templates")
STYLESHEET = Path(__file__).with_name("static") / "style.css"
PASSKEY_SCRIPT = STYLESHEET.with_name("authorize-passkey.js")
WEBAUTHN_SCRIPT = STYLESHEET.with_name("webauthn.js")
SCRIPT_HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True, default_for_string=True),
)

# A CSP source expression for a form's destination: a web origin or a bare scheme
# (a native app's private-use URI scheme, RFC 8252 §7.1). Nothing else goes in the header.
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.\-\[\]:]+")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")

# What scope names mean when the operator has not described them (OIDC Core §5.4).
STANDARD_SCOPES = {
    "openid": "Know who you are: your Tollgate user id.",
    "profile": "See your username.",
    "email": "See your email address.",
    "offline_access": "Stay connected to your account while you are away.",
}
UNDESCRIBED = "No description given by the server's operator."


@dataclass(frozen=True)
class ScopeChoice:
    name: str
    description: str
    fixed: bool  # shown checked and cannot be unchecked (openid)


def form_destination(uri: str) -> str | None:
    """The CSP source allowing a form post to end on `uri` (a redirect after a post
    counts as the form's destination: CSP3 form-action), None if it cannot be named."""
    parts = urlsplit(uri)
    if parts.scheme in ("http", "https"):
        origin = f"{parts.scheme}://{parts.netloc}"
        return origin if _ORIGIN.fullmatch(origin) and "@" not in origin else None
    scheme = f"{parts.scheme}:"
    return scheme if parts.scheme and _SCHEME.fullmatch(scheme) else None


def page_headers(
    destinations: Sequence[str | None] = (), *, script: bool = False
) -> dict[str, str]:
    """No framing (CSP frame-ancestors and X-Frame-Options for older browsers), no
    caching of pages holding a form token, no Referer to the app (RFC 9700 §4.2.4).
    `script`: our own script files (the passkey step), never inline code."""
    targets = " ".join(["'self'", *(d for d in destinations if d)])
    scripts = "script-src 'self'; " if script else ""
    return {
        "Content-Security-Policy": (
            f"default-src 'none'; {scripts}style-src 'self'; img-src 'self' data:; "
            f"form-action {targets}; base-uri 'none'; frame-ancestors 'none'"
        ),
        "X-Frame-Options": "DENY",
        "Cache-Control": "no-store",
        "Pragma": "no-cache",
        "Referrer-Policy": "no-referrer",
    }


def render(
    template: str,
    status: int = 200,
    destinations: Sequence[str | None] = (),
    headers: dict[str, str] | None = None,
    *,
    script: bool = False,
    **values: object,
) -> HTMLResponse:
    html = _env.get_template(template).render(**values)
    own = page_headers(destinations, script=script)
    return HTMLResponse(html, status, headers={**own, **(headers or {})})


def login_page(
    *,
    app: str,
    form_token: str,
    destination: str | None,
    username: str = "",
    message: str = "",
    signup: bool = True,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    return render(
        "login.html",
        status,
        [destination],
        headers,
        title="Log in",
        app=app,
        form_token=form_token,
        username=username,
        message=message,
        signup=signup,
    )


def mfa_page(
    *,
    app: str,
    form_token: str,
    destination: str | None,
    message: str = "",
    status: int = 200,
    headers: dict[str, str] | None = None,
    codes: bool = True,
    passkey_options: str | None = None,
) -> HTMLResponse:
    """The second step after a right password (issue 18): a code or a recovery code
    (`codes`), and a passkey when `passkey_options` (WebAuthn request options, JSON) are
    given; the passkey form needs our script, so only then does the page allow it."""
    return render(
        "mfa.html",
        status,
        [destination],
        headers,
        script=passkey_options is not None,
        title="Second step",
        app=app,
        form_token=form_token,
        message=message,
        codes=codes,
        passkey_options=passkey_options,
    )


def consent_page(
    *,
    app: str,
    who: str,
    switch_url: str,
    form_token: str,
    destination: str | None,
    scopes: list[ScopeChoice],
) -> HTMLResponse:
    return render(
        "consent.html",
        200,
        [destination],
        title=f"Allow {app}?",
        app=app,
        who=who,
        switch_url=switch_url,
        form_token=form_token,
        scopes=scopes,
    )


def message_page(
    heading: str, text: str, *, status: int = 200, hint: str = "", error: bool = False
) -> HTMLResponse:
    return render(
        "message.html", status, title=heading, heading=heading, text=text, hint=hint, error=error
    )


def error_page(text: str, status: int = 400) -> HTMLResponse:
    return message_page(
        "This sign-in cannot continue",
        text,
        status=status,
        hint="Go back to the app you came from and try again.",
        error=True,
    )


def logout_page(
    *, app: str | None, who: str, form_token: str, destination: str | None
) -> HTMLResponse:
    return render(
        "logout.html",
        200,
        [destination],
        title="Log out?",
        app=app,
        who=who,
        form_token=form_token,
    )


async def passkey_script() -> FileResponse:
    """The second-step page's passkey script (issue 18)."""
    return FileResponse(PASSKEY_SCRIPT, media_type="text/javascript", headers=SCRIPT_HEADERS)


async def webauthn_script() -> FileResponse:
    """What the passkey script imports (WebAuthn JSON to ArrayBuffers)."""
    return FileResponse(WEBAUTHN_SCRIPT, media_type="text/javascript", headers=SCRIPT_HEADERS)


async def stylesheet() -> FileResponse:
    """The account page's stylesheet, served here too: the pages work without TOLLGATE_UI."""
    return FileResponse(STYLESHEET, headers={"Cache-Control": "no-cache"})
