"""What the authorization endpoint's pages share: the sign-in (SSO) cookie, and the CSRF
protection of their form posts.

CSRF: a signed double-submit token (OWASP's "signed double-submit cookie"). The browser
holds a random value in an HttpOnly cookie; every form we render carries a token signed
by our keyring that names that value, the step it is for and, on the consent and logout
forms, the sign-in session it was shown to. A post is accepted only if its token is ours,
unexpired, for this step, and names the cookie the browser sent. A forging site can get a
token of its own (by opening /authorize itself) but cannot make the victim's browser send
the matching cookie, nor read the victim's. The same signed token carries the
authorization request itself, so the browser cannot change it between the pages, and no
server-side state is kept for pages that are never answered. SameSite=Lax cookies and an
Origin check (a foreign Origin is refused) are a second line.
"""

from __future__ import annotations

import hmac
import re
import secrets
from typing import Any

from fastapi import Request, Response
from fastapi.responses import RedirectResponse

from tollgate.events import ClientInfo
from tollgate.services.browser_session import SSO_COOKIE
from tollgate.services.container import Services, authorize_audience
from tollgate.settings import Settings

CSRF_COOKIE = "tollgate_csrf"
# How long a login, consent or logout form may stay open before it must be reloaded.
FORM_TTL = 900
_NONCE = re.compile(r"[A-Za-z0-9_-]{43}")


class FormRefused(Exception):
    """A form post without valid proof that our own page sent it (403)."""


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def client_of(request: Request) -> ClientInfo:
    return ClientInfo(
        user_agent=request.headers.get("user-agent"),
        ip=request.client.host if request.client else None,
    )


def _secure(settings: Settings) -> bool:
    return settings.issuer.startswith("https://")


def csrf_nonce(request: Request) -> tuple[str, bool]:
    """The browser's CSRF value, and whether it is new (to be set on the answer)."""
    held = request.cookies.get(CSRF_COOKIE, "")
    if _NONCE.fullmatch(held):
        return held, False
    return secrets.token_urlsafe(32), True


def set_csrf_cookie(response: Response, nonce: str, settings: Settings) -> None:
    # A browser-session cookie; Lax so it is there when an app sends the user to us.
    response.set_cookie(
        CSRF_COOKIE, nonce, path="/", httponly=True, samesite="lax", secure=_secure(settings)
    )


async def form_token(
    request: Request, response_cookies: list[str], typ: str, audience: str, claims: dict[str, Any]
) -> str:
    """A signed token for a form about to be shown; `response_cookies` collects the CSRF
    cookie value to set when the browser has none yet."""
    nonce, new = csrf_nonce(request)
    if new:
        response_cookies.append(nonce)
    tokens = services_of(request).browser_tokens
    return await tokens.sign(typ, audience, {**claims, "csrf": nonce}, FORM_TTL)


async def read_form_token(
    request: Request, token: object, typ: str, audience: str
) -> dict[str, Any]:
    """The claims of a posted form token, once the post has shown it comes from our page."""
    services = services_of(request)
    origin = request.headers.get("origin")
    # "null": a page with Referrer-Policy no-referrer posts with an opaque origin.
    if origin is not None and origin != "null":
        own = {f"{request.url.scheme}://{request.headers.get('host', '')}"}
        own.add(services.settings.issuer.rstrip("/"))
        if origin.rstrip("/") not in own:
            raise FormRefused(f"Posts from {origin} are not accepted.")
    posted = token if isinstance(token, str) else None
    claims = await services.browser_tokens.read(typ, audience, posted)
    if claims is None:
        raise FormRefused("This form has expired or was not made by Tollgate.")
    held = request.cookies.get(CSRF_COOKIE, "")
    sent = claims.get("csrf")
    if not held or not isinstance(sent, str) or not hmac.compare_digest(held, sent):
        raise FormRefused("This form was not opened in this browser.")
    return claims


def set_sso_cookie(response: Response, value: str, max_age: int, settings: Settings) -> None:
    response.set_cookie(
        SSO_COOKIE,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=_secure(settings),
    )


def clear_sso_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        SSO_COOKIE, path="/", httponly=True, samesite="lax", secure=_secure(settings)
    )


def redirect(location: str) -> RedirectResponse:
    # 303: after a form post the browser follows with GET (RFC 9110 §15.4.4).
    return RedirectResponse(
        location, 303, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    )


def audience_of(request: Request) -> str:
    return authorize_audience(services_of(request).settings)
