"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): GET or POST
/end-session. Rules in services/end_session.py; the confirmation form is CSRF-protected
like the sign-in forms (api/browser_forms.py)."""

from __future__ import annotations

from fastapi import Request, Response

from tollgate.api.browser_forms import (
    FormRefused,
    clear_sso_cookie,
    client_of,
    form_token,
    read_form_token,
    redirect,
    services_of,
    set_csrf_cookie,
)
from tollgate.services.browser_session import SSO_COOKIE
from tollgate.tokens.browser import LOGOUT_FORM_TYP
from tollgate.ui import pages

LOGOUT_REASON = "logout"


def _audience(request: Request) -> str:
    return services_of(request).settings.issuer.rstrip("/") + "/end-session"


async def end_session(request: Request) -> Response:
    services = services_of(request)
    if request.method == "POST":
        form = await request.form()
        if "confirm" in form:
            return await _confirmed(request, form.get("confirm"))
        params = {k: v for k, v in form.items() if isinstance(v, str)}
    else:
        params = dict(request.query_params.items())
    logout = await services.end_session.parse(params)
    signed_in = await services.browser.current(request.cookies.get(SSO_COOKIE))
    if signed_in is not None and (
        logout.hint_subject is None or logout.hint_subject != str(signed_in.user.id)
    ):
        # No proof the user's own app asks: ask the user (§2), never log out on a bare GET.
        new_cookie: list[str] = []
        token = await form_token(
            request, new_cookie, LOGOUT_FORM_TYP, _audience(request),
            {"sid": str(signed_in.session.id), "redirect": logout.redirect or ""},
        )  # fmt: skip
        response: Response = pages.logout_page(
            app=logout.client.name if logout.client else None,
            who=signed_in.user.username,
            form_token=token,
            destination=pages.form_destination(logout.redirect) if logout.redirect else None,
        )
        for nonce in new_cookie:
            set_csrf_cookie(response, nonce, services.settings)
        return response
    if signed_in is not None:
        await services.browser.end(signed_in, LOGOUT_REASON, client_of(request))
    return _signed_out(request, logout.redirect)


async def _confirmed(request: Request, token: object) -> Response:
    services = services_of(request)
    try:
        claims = await read_form_token(request, token, LOGOUT_FORM_TYP, _audience(request))
    except FormRefused as refused:
        return pages.error_page(str(refused), 403)
    signed_in = await services.browser.current(request.cookies.get(SSO_COOKIE))
    if signed_in is not None:
        if str(signed_in.session.id) != claims.get("sid"):
            return pages.error_page("This form was for an earlier sign-in; nothing was done.")
        await services.browser.end(signed_in, LOGOUT_REASON, client_of(request))
    # The redirect was checked against the app's registered URIs before it was signed.
    target = claims.get("redirect")
    return _signed_out(request, target if isinstance(target, str) and target else None)


def _signed_out(request: Request, target: str | None) -> Response:
    response: Response
    if target is not None:
        response = redirect(target)
    else:
        response = pages.message_page(
            "You are logged out", "You are logged out of Tollgate in this browser."
        )
    clear_sso_cookie(response, services_of(request).settings)
    return response
