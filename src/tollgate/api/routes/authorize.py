"""The authorization endpoint (RFC 6749 §3.1, OIDC Core §3.1.2) and its login and consent
form posts. Thin: services/authorization.py holds the rules, ui/pages.py the HTML,
api/browser_forms.py the cookies and CSRF."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from urllib.parse import urlencode

from fastapi import Request, Response

from tollgate.api.browser_forms import (
    FormRefused,
    audience_of,
    client_of,
    form_token,
    read_form_token,
    redirect,
    services_of,
    set_csrf_cookie,
    set_sso_cookie,
)
from tollgate.errors import (
    AccountDisabled,
    InvalidGrant,
    InvalidInput,
    InvalidRequest,
    MfaEnrollmentRequired,
    MfaRequired,
    TollgateError,
    TooManyRequests,
)
from tollgate.services.authorization import (
    AuthorizationPageError,
    AuthorizationRequest,
    CodeIssued,
    ConsentNeeded,
    LoginNeeded,
    Outcome,
    RedirectedError,
)
from tollgate.services.browser_session import SSO_COOKIE, SignedIn
from tollgate.tokens.browser import AUTHORIZE_FORM_TYP
from tollgate.ui import pages

WRONG_CREDENTIALS = "Wrong username or password."
MAX_FIELD = 1024
# A WebAuthn assertion is a few hundred bytes of base64url; a form field past this is not one.
MAX_CREDENTIAL = 16_384
PASSKEY_REFUSED = "The passkey could not be verified. Try again, or use a code."
ENROL_FIRST = (
    "This account must set up a second factor first: log in on your Tollgate account "
    "page to do so, then come back."
)


async def authorize(request: Request) -> Response:
    """GET /authorize (and POST, form-encoded, as OIDC Core §3.1.2.1 asks)."""
    if request.method == "POST":
        params: Sequence[tuple[str, str]] = [
            (k, v) for k, v in (await request.form()).multi_items() if isinstance(v, str)
        ]
    else:
        params = request.query_params.multi_items()
    services = services_of(request)
    try:
        auth_request = await services.authorization.validate(params)
        signed_in = await services.browser.current(request.cookies.get(SSO_COOKIE))
        outcome = await services.authorization.decide(auth_request, signed_in, client_of(request))
        return await _show(request, outcome)
    except AuthorizationPageError as refused:
        return pages.error_page(refused.description)
    except RedirectedError as refused:
        return redirect(refused.location)


async def login(request: Request) -> Response:
    """POST /authorize/login: the login form."""
    form = await request.form()
    services = services_of(request)
    try:
        claims = await read_form_token(
            request, form.get("request"), AUTHORIZE_FORM_TYP, audience_of(request)
        )
        if claims.get("step") != "login":
            raise FormRefused("This is not a login form.")
        auth_request = await services.authorization.validate(_params(claims))
    except FormRefused as refused:
        return pages.error_page(str(refused), 403)
    except AuthorizationPageError as refused:
        return pages.error_page(refused.description)
    except RedirectedError as refused:
        return redirect(refused.location)
    username, password = form.get("username"), form.get("password")
    username = username if isinstance(username, str) else ""
    password = password if isinstance(password, str) else ""
    client = client_of(request)
    try:
        if not username or len(username) > MAX_FIELD or len(password) > MAX_FIELD:
            raise InvalidGrant(WRONG_CREDENTIALS)
        signed_in, cookie = await services.browser.sign_in(username, password, client)
    except MfaEnrollmentRequired as enrol:
        return await _login_again(request, auth_request, username, enrol)
    except MfaRequired as second_step:
        # Issue 18: the password was right; the code prompt carries the mfa_token (in the
        # signed form token, never in the page's URL).
        return await _mfa_page(
            request, auth_request, second_step.mfa_token, methods=second_step.methods
        )
    except (InvalidGrant, AccountDisabled, TooManyRequests) as failure:
        return await _login_again(request, auth_request, username, failure)
    return await _signed_in_now(request, auth_request, signed_in, cookie)


async def mfa(request: Request) -> Response:
    """POST /authorize/mfa: the code prompt after a right password (issue 18)."""
    form = await request.form()
    services = services_of(request)
    try:
        claims = await read_form_token(
            request, form.get("request"), AUTHORIZE_FORM_TYP, audience_of(request)
        )
        mfa_token = claims.get("mfa_token")
        if claims.get("step") != "mfa" or not isinstance(mfa_token, str):
            raise FormRefused("This is not a second-step form.")
        methods = claims.get("methods")
        methods = [m for m in methods if isinstance(m, str)] if isinstance(methods, list) else []
        auth_request = await services.authorization.validate(_params(claims))
    except FormRefused as refused:
        return pages.error_page(str(refused), 403)
    except AuthorizationPageError as refused:
        return pages.error_page(refused.description)
    except RedirectedError as refused:
        return redirect(refused.location)
    client = client_of(request)
    again = partial(_mfa_page, request, auth_request, mfa_token, methods=methods)
    credential = form.get("credential")
    if isinstance(credential, str) and credential:
        return await _with_passkey(request, auth_request, mfa_token, credential, again)
    code, recovery = form.get("code"), form.get("recovery_code")
    code = code.strip() if isinstance(code, str) and code.strip() else None
    recovery = recovery.strip() if isinstance(recovery, str) and recovery.strip() else None
    try:
        if code is not None and recovery is not None:
            recovery = None  # the app's code wins when both were typed
        if (code and len(code) > 32) or (recovery and len(recovery) > 32):
            raise InvalidGrant("The code is not valid.")
        signed_in, cookie = await services.browser.sign_in_second_step(
            mfa_token, code, recovery, client
        )
    except InvalidInput:
        return await again("Type the code from your app.")
    except TooManyRequests as failure:
        return await again(failure.description, 429)
    except InvalidGrant as failure:
        if "mfa_token" in failure.description:
            return await _login_again(request, auth_request, "", failure)
        return await again("That code is not valid.", 401)
    return await _signed_in_now(request, auth_request, signed_in, cookie)


async def _with_passkey(
    request: Request,
    auth_request: AuthorizationRequest,
    mfa_token: str,
    credential: str,
    again: Callable[..., Awaitable[Response]],
) -> Response:
    """The second step answered by a passkey: the page's script posts its answer."""
    services = services_of(request)
    try:
        if len(credential) > MAX_CREDENTIAL:
            raise InvalidGrant(PASSKEY_REFUSED)
        answer = json.loads(credential)
        if not isinstance(answer, dict):
            raise InvalidGrant(PASSKEY_REFUSED)
        signed_in, cookie = await services.browser.sign_in_with_passkey(
            mfa_token, answer, client_of(request)
        )
    except (ValueError, RecursionError):
        return await again(PASSKEY_REFUSED, 400)
    except TooManyRequests as failure:
        return await again(failure.description, 429)
    except (InvalidGrant, InvalidRequest) as failure:
        if "mfa_token" in failure.description:
            return await _login_again(request, auth_request, "", failure)
        return await again(PASSKEY_REFUSED, 401)
    return await _signed_in_now(request, auth_request, signed_in, cookie)


async def _mfa_page(
    request: Request,
    auth_request: AuthorizationRequest,
    mfa_token: str,
    message: str = "",
    status: int = 200,
    *,
    methods: Sequence[str] = (),
) -> Response:
    new_cookie: list[str] = []
    token = await form_token(
        request, new_cookie, AUTHORIZE_FORM_TYP, audience_of(request),
        {"step": "mfa", "params": dict(auth_request.params), "mfa_token": mfa_token,
         "methods": list(methods)},
    )  # fmt: skip
    services = services_of(request)
    # Each showing of the page gets a challenge of its own (a challenge is answered once).
    options = await services.browser.passkey_options(mfa_token) if "webauthn" in methods else None
    response = pages.mfa_page(
        app=auth_request.client.name,
        form_token=token,
        destination=pages.form_destination(auth_request.redirect_uri),
        message=message,
        status=status,
        codes=bool({"totp", "recovery_code"} & set(methods)) or options is None,
        passkey_options=options,
    )
    for nonce in new_cookie:
        set_csrf_cookie(response, nonce, services.settings)
    return response


async def _signed_in_now(
    request: Request, auth_request: AuthorizationRequest, signed_in: SignedIn, cookie: str
) -> Response:
    services = services_of(request)
    client = client_of(request)
    # One Tollgate sign-in per browser: the one this replaces ends.
    before = await services.browser.current(request.cookies.get(SSO_COOKIE))
    if before is not None and before.session.id != signed_in.session.id:
        await services.browser.end(before, "sso_replaced", client)
    try:
        outcome = await services.authorization.decide(
            auth_request, signed_in, client, just_logged_in=True
        )
        response = await _show(request, outcome)
    except RedirectedError as refused:
        response = redirect(refused.location)
    ttl = int(signed_in.session.expires_at.timestamp() - services.clock.timestamp())
    set_sso_cookie(response, cookie, max(1, ttl), services.settings)
    return response


async def consent(request: Request) -> Response:
    """POST /authorize/consent: the consent form (Allow or Deny)."""
    form = await request.form()
    services = services_of(request)
    client = client_of(request)
    try:
        claims = await read_form_token(
            request, form.get("request"), AUTHORIZE_FORM_TYP, audience_of(request)
        )
        if claims.get("step") != "consent":
            raise FormRefused("This is not a consent form.")
        signed_in = await services.browser.current(request.cookies.get(SSO_COOKIE))
        if signed_in is None or str(signed_in.session.id) != claims.get("sid"):
            raise AuthorizationPageError("You are no longer signed in to Tollgate here.")
        auth_request = await services.authorization.validate(_params(claims))
        action = form.get("action")
        if action == "deny":
            # RFC 6749 §4.1.2.1: the resource owner denied the request.
            raise auth_request.refuse("access_denied", "The user denied the request.")
        if action != "allow":
            raise AuthorizationPageError("Choose Allow or Deny.")
        chosen = [s for s in form.getlist("scope") if isinstance(s, str)]
        version = claims.get("version")
        issued = await services.authorization.consent(
            auth_request, signed_in, chosen, version if isinstance(version, str) else "", client
        )
        return redirect(issued.location)
    except FormRefused as refused:
        return pages.error_page(str(refused), 403)
    except AuthorizationPageError as refused:
        return pages.error_page(refused.description)
    except RedirectedError as refused:
        return redirect(refused.location)


def _params(claims: dict[str, object]) -> list[tuple[str, str]]:
    params = claims.get("params")
    if not isinstance(params, dict):
        raise FormRefused("This form carries no sign-in request.")
    return [(k, v) for k, v in params.items() if isinstance(k, str) and isinstance(v, str)]


async def _show(request: Request, outcome: Outcome) -> Response:
    if isinstance(outcome, CodeIssued):
        return redirect(outcome.location)
    new_cookie: list[str] = []
    audience = audience_of(request)
    auth_request = outcome.request
    destination = pages.form_destination(auth_request.redirect_uri)
    services = services_of(request)
    response: Response
    if isinstance(outcome, LoginNeeded):
        token = await form_token(
            request, new_cookie, AUTHORIZE_FORM_TYP, audience,
            {"step": "login", "params": dict(auth_request.params)},
        )  # fmt: skip
        response = pages.login_page(
            app=auth_request.client.name,
            form_token=token,
            destination=destination,
            username=(auth_request.login_hint or "")[:MAX_FIELD],
            signup=services.settings.ui,
        )
    else:
        response = await _consent_page(request, outcome, new_cookie)
    for nonce in new_cookie:
        set_csrf_cookie(response, nonce, services.settings)
    return response


async def _consent_page(
    request: Request, outcome: ConsentNeeded, new_cookie: list[str]
) -> Response:
    auth_request, signed_in = outcome.request, outcome.signed_in
    token = await form_token(
        request,
        new_cookie,
        AUTHORIZE_FORM_TYP,
        audience_of(request),
        {
            "step": "consent",
            "params": dict(auth_request.params),
            "sid": str(signed_in.session.id),
            "version": outcome.version,
        },
    )
    described = {d.name: d.description for d in await services_of(request).stores.scopes.list()}
    scopes = [
        pages.ScopeChoice(
            name,
            described.get(name) or pages.STANDARD_SCOPES.get(name, pages.UNDESCRIBED),
            fixed=name == "openid",
        )
        for name in outcome.offered
    ]
    # "Not you?": the same request, asking for the password (the other sign-in then ends).
    switch = "/authorize?" + urlencode({**auth_request.params, "prompt": "login"})
    return pages.consent_page(
        app=auth_request.client.name,
        who=signed_in.user.username,
        switch_url=switch,
        form_token=token,
        destination=pages.form_destination(auth_request.redirect_uri),
        scopes=scopes,
    )


async def _login_again(
    request: Request, auth_request: AuthorizationRequest, username: str, failure: TollgateError
) -> Response:
    headers: dict[str, str] = {}
    if isinstance(failure, TooManyRequests):
        message, status = failure.description, 429
        headers["Retry-After"] = str(failure.retry_after)
    elif isinstance(failure, AccountDisabled):
        message, status = "This account is disabled.", 403
    elif isinstance(failure, MfaEnrollmentRequired):
        message, status = ENROL_FIRST, 403
    elif "mfa_token" in failure.description:
        message, status = "That took too long; log in again.", 401
    else:
        # One message for an unknown user and a wrong password.
        message, status = WRONG_CREDENTIALS, 401
    new_cookie: list[str] = []
    token = await form_token(
        request, new_cookie, AUTHORIZE_FORM_TYP, audience_of(request),
        {"step": "login", "params": dict(auth_request.params)},
    )  # fmt: skip
    services = services_of(request)
    response = pages.login_page(
        app=auth_request.client.name,
        form_token=token,
        destination=pages.form_destination(auth_request.redirect_uri),
        username=username[:MAX_FIELD],
        message=message,
        signup=services.settings.ui,
        status=status,
        headers=headers,
    )
    for nonce in new_cookie:
        set_csrf_cookie(response, nonce, services.settings)
    return response
