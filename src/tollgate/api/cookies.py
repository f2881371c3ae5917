"""Cookie mode (TOLLGATE_COOKIE_MODE): the refresh token lives in an HttpOnly cookie.

Browsers then never let page scripts read the refresh token. Because browsers attach
cookies to cross-site requests too, every request that the cookie authenticates must
prove it comes from a page allowed to call us: a double-submit CSRF token (header equal
to a second, readable cookie), a JSON content type (no HTML form can send one) and, when
the browser says where it comes from, an allowed Origin.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import Request, Response

from tollgate.errors import CrossSiteRequest, InvalidGrant
from tollgate.settings import Settings

# RFC 6265bis §4.1.3.2: "__Host-" cookies must be Secure, Path=/ and have no Domain,
# so no subdomain or plain-http page can set or shadow them.
REFRESH_COOKIE = "__Host-tollgate-refresh"
CSRF_COOKIE = "__Host-tollgate-csrf"
CSRF_HEADER = "X-CSRF-Token"
# A browser page may ask for cookie delivery on its own requests even when cookie mode is
# off for everyone (the bundled page at / does): same cookies, same CSRF checks.
DELIVERY_HEADER = "X-Token-Delivery"


def uses_cookies(request: Request) -> bool:
    settings: Settings = request.app.state.services.settings
    return settings.cookie_mode or request.headers.get(DELIVERY_HEADER, "").lower() == "cookie"


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def set_session_cookies(response: Response, refresh_token: str, max_age: int, csrf: str) -> None:
    response.set_cookie(
        REFRESH_COOKIE,
        refresh_token,
        max_age=max_age,
        path="/",
        secure=True,
        httponly=True,
        samesite="strict",
    )
    response.set_cookie(
        CSRF_COOKIE,
        csrf,
        max_age=max_age,
        path="/",
        secure=True,
        httponly=False,
        samesite="strict",
    )


def clear_session_cookies(response: Response) -> None:
    for name in (REFRESH_COOKIE, CSRF_COOKIE):
        response.delete_cookie(
            name, path="/", secure=True, httponly=name == REFRESH_COOKIE, samesite="strict"
        )


def allowed_origins(request: Request, settings: Settings) -> set[str]:
    own = f"{request.url.scheme}://{request.headers.get('host', '')}"
    issuer = settings.issuer.rstrip("/")
    return {own, issuer, *settings.cors_origins}


async def refresh_cookie(request: Request) -> str | None:
    """Route dependency: in cookie mode, the checked refresh cookie; otherwise None.

    A dependency runs before FastAPI reports body errors, so a cross-site form post is
    refused as such (403) rather than as a malformed body.
    """
    settings: Settings = request.app.state.services.settings
    return refresh_token_from_cookie(request, settings) if uses_cookies(request) else None


def refresh_token_from_cookie(request: Request, settings: Settings) -> str:
    """The refresh cookie, once the request has shown it is not cross-site."""
    token = request.cookies.get(REFRESH_COOKIE)
    if not token:
        raise InvalidGrant("There is no refresh cookie; log in again.")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise CrossSiteRequest("Cookie-authenticated requests must be sent as application/json.")
    origin = request.headers.get("origin")
    if origin is not None and origin.rstrip("/") not in allowed_origins(request, settings):
        raise CrossSiteRequest(f"Requests from {origin} are not allowed.")
    sent = request.headers.get(CSRF_HEADER, "")
    expected = request.cookies.get(CSRF_COOKIE, "")
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        raise CrossSiteRequest(f"The {CSRF_HEADER} header must match the CSRF cookie.")
    return token
