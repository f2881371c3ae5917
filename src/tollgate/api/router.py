"""Every HTTP route of Tollgate, in one table (as supabase/auth's internal/api/api.go).

Method, path and handler, with what a route runs under: its rate limit (per client
address, `services.throttle`) and, for the OAuth 2.0 token endpoints, RFC 6749 §5.2
errors (`api.errors.TokenEndpointRoute`). What each route answers and documents is
recorded with its handler (`@operation`, api/routes/*). Two routes also have a lean
path in front of the app, answering their plain case with the same answer:
GET /auth (api/gateway.py) and POST /refresh (api/lean_refresh.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI

from tollgate.api import docs, gateway
from tollgate.api.dependencies import rate_limited
from tollgate.api.errors import TokenEndpointRoute
from tollgate.api.operation import operation_of
from tollgate.api.routes import (
    account,
    authorize,
    consents,
    end_session,
    mfa,
    oauth,
    ops,
    recovery,
    shared_signals,
    tokens,
    userinfo,
    wellknown,
)
from tollgate.ui import pages
from tollgate.ui import routes as ui


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Callable[..., Any]
    tag: str | None = None  # its group in the API document; None: a page, not in it
    limit: str | None = None  # the rate limit counted (TOLLGATE_RATE_LIMIT_*)
    token_endpoint: bool = False  # answers errors as an RFC 6749 token endpoint


ROUTES = (
    # Getting tokens
    Route("POST", "/join", tokens.join, "tokens", limit="join"),
    Route("POST", "/login", tokens.login, "tokens", limit="token"),
    Route("POST", "/auth", tokens.token_endpoint, "tokens", limit="token", token_endpoint=True),
    Route("POST", "/refresh", tokens.refresh, "tokens", limit="token"),
    # Second factors (issue 18)
    Route("POST", "/login/mfa", mfa.login_mfa, "mfa", limit="token"),
    Route("GET", "/mfa", mfa.list_factors, "mfa"),
    Route("POST", "/mfa/totp", mfa.start_totp, "mfa", limit="token"),
    Route("POST", "/mfa/totp/confirm", mfa.confirm_totp, "mfa", limit="token"),
    Route("DELETE", "/mfa/totp", mfa.remove_totp, "mfa"),
    Route("POST", "/mfa/recovery-codes", mfa.regenerate_recovery_codes, "mfa"),
    Route("DELETE", "/mfa/webauthn/{passkey_id}", mfa.remove_passkey, "mfa"),
    Route("POST", "/webauthn/register/options", mfa.passkey_registration_options, "mfa"),
    Route("POST", "/webauthn/register", mfa.register_passkey, "mfa"),
    Route("POST", "/webauthn/login/options", mfa.passkey_login_options, "mfa", limit="token"),
    Route("POST", "/webauthn/login", mfa.passkey_login, "mfa", limit="token"),
    # Using a token
    Route("GET", "/auth", gateway.check, "account"),
    Route("GET", "/me", account.me, "account"),
    Route("POST", "/logout", account.logout, "account"),
    Route("GET", "/sessions", account.list_sessions, "account"),
    Route("DELETE", "/sessions/{session_id}", account.end_session, "account"),
    Route("POST", "/password", account.change_password, "account"),
    Route("DELETE", "/me", account.delete_me, "account"),
    Route("GET", "/consents", consents.list_consents, "account"),
    Route("DELETE", "/consents/{client_id}", consents.revoke_consent, "account"),
    # Account recovery by email (issue 17)
    Route("POST", "/password/forgot", recovery.forgot, "recovery", limit="mail"),
    Route("POST", "/password/reset", recovery.reset, "recovery", limit="token"),
    Route("POST", "/email", recovery.change_email, "recovery"),
    Route("POST", "/email/verify", recovery.verify_email, "recovery", limit="token"),
    Route("POST", "/email/verify/resend", recovery.resend_verification, "recovery", limit="mail"),
    # OpenID Connect (issue 14)
    Route("GET", "/userinfo", userinfo.userinfo, "oidc"),
    Route("POST", "/userinfo", userinfo.userinfo, "oidc"),
    # Token revocation (RFC 7009) and introspection (RFC 7662)
    Route("POST", "/revoke", oauth.revoke, "oauth", token_endpoint=True),
    Route("POST", "/introspect", oauth.introspect, "oauth", token_endpoint=True),
    # Keys and metadata (RFC 8414)
    Route("GET", "/.well-known/jwks.json", wellknown.jwks, "keys"),
    Route("GET", "/.well-known/oauth-authorization-server", wellknown.oauth_metadata, "keys"),
    Route("GET", "/.well-known/openid-configuration", wellknown.openid_configuration, "keys"),
    # Revocations reach other services: the Shared Signals transmitter (issue 16)
    Route("GET", "/.well-known/ssf-configuration", shared_signals.ssf_configuration, "ssf"),
    Route("POST", "/ssf/streams", shared_signals.create_stream, "ssf"),
    Route("GET", "/ssf/streams", shared_signals.read_streams, "ssf"),
    Route("DELETE", "/ssf/streams", shared_signals.delete_stream, "ssf"),
    Route("GET", "/ssf/status", shared_signals.read_status, "ssf"),
    Route("POST", "/ssf/status", shared_signals.update_status, "ssf"),
    Route("POST", "/ssf/verify", shared_signals.verify_stream, "ssf"),
    Route("POST", "/ssf/poll/{stream_id}", shared_signals.poll, "ssf"),
    # Other apps sign in with Tollgate (issue 14): the browser's pages
    Route("GET", "/authorize", authorize.authorize),
    Route("POST", "/authorize", authorize.authorize),
    Route("POST", "/authorize/login", authorize.login, limit="token"),
    Route("POST", "/authorize/mfa", authorize.mfa, limit="token"),
    Route("POST", "/authorize/consent", authorize.consent),
    Route("GET", "/authorize/style.css", pages.stylesheet),
    Route("GET", "/authorize/passkey.js", pages.passkey_script),
    Route("GET", "/authorize/webauthn.js", pages.webauthn_script),
    Route("GET", "/end-session", end_session.end_session),
    Route("POST", "/end-session", end_session.end_session),
    # Operations
    Route("GET", "/health", ops.health, "operations"),
    Route("GET", "/ready", ops.ready, "operations"),
    Route("GET", "/metrics", ops.metrics, "operations"),
    # Pages: the API docs (GET /openapi.json is FastAPI's own) and the icon
    Route("GET", "/docs", docs.swagger_ui),
    Route("GET", "/docs/oauth2-redirect", docs.swagger_ui_redirect),
    Route("GET", "/redoc", docs.redoc),
    Route("GET", "/favicon.ico", docs.favicon),
)
# With TOLLGATE_UI (the default): the account page.
ACCOUNT_PAGE = Route("GET", "/", ui.page)


def install(app: FastAPI, account_page: bool) -> None:
    for route in ROUTES + ((ACCOUNT_PAGE,) if account_page else ()):
        app.router.add_api_route(
            route.path,
            route.handler,
            methods=[route.method],
            tags=[route.tag] if route.tag else None,
            include_in_schema=route.tag is not None,
            dependencies=[rate_limited(route.limit)] if route.limit else None,
            route_class_override=TokenEndpointRoute if route.token_endpoint else None,
            **operation_of(route.handler),
        )
    # Static files: the docs pages' scripts and styles, and the account page's.
    app.mount("/docs-assets", docs.assets(), name="docs-assets")
    if account_page:
        app.mount("/ui", ui.static_files(), name="ui")
