"""An authorization request, checked (RFC 6749 §4.1.1, RFC 7636 §4.3, OpenID Connect Core
1.0 §3.1.2.1-§3.1.2.2).

Until the client and its redirect URI are known good, nothing may be sent anywhere (RFC
6749 §4.1.2.1, RFC 9700 §4.11: no open redirector): `AuthorizationPageError`, shown to the
user. After that, errors go back to the client's redirect URI (`RedirectedError`), with
`state` and `iss` (RFC 9207).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from urllib.parse import urlencode, urlsplit, urlunsplit

from tollgate.errors import InvalidScope, TollgateError
from tollgate.services.scopes import parse_scope
from tollgate.store.interfaces import ClientStore
from tollgate.store.records import ClientRecord

PROMPTS = frozenset({"none", "login", "consent"})
# RFC 7636 §4.2: base64url(sha256(verifier)) without padding is 43 characters.
S256_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
# RFC 8252 §7.3: a native app's loopback redirect may use any port.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1"})
# Parameters of an authorization request we act on; each may appear once (RFC 6749 §3.1).
# Their values together: the login and consent forms carry them in a signed token that
# must stay well under the token checks' size limit (tokens/checking.py).
MAX_PARAMETERS_LENGTH = 4096
PARAMETERS = (
    "response_type", "client_id", "redirect_uri", "scope", "state", "nonce",
    "code_challenge", "code_challenge_method", "prompt", "max_age", "login_hint",
)  # fmt: skip


class AuthorizationPageError(TollgateError):
    """Shown on an error page, never redirected: the client or its redirect URI is not
    known good (RFC 6749 §4.1.2.1)."""

    error = "invalid_request"
    status = 400
    description = "This sign-in request cannot be handled."


class RedirectedError(Exception):
    """An error answered on the client's redirect URI (RFC 6749 §4.1.2.1)."""

    def __init__(self, request: AuthorizationRequest, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.location = request.answer(error=error, error_description=description)


@dataclass(frozen=True)
class AuthorizationRequest:
    """A request whose client and redirect URI are known good (every other check too)."""

    client: ClientRecord
    redirect_uri: str
    scopes: tuple[str, ...]  # requested ∩ what the client may have, in request order
    state: str | None
    nonce: str | None
    code_challenge: str
    prompt: frozenset[str]
    max_age: int | None
    login_hint: str | None
    issuer: str
    # The parameters as sent (one value each): what the login and consent forms carry.
    params: Mapping[str, str] = field(default_factory=dict)

    def answer(self, **values: str) -> str:
        """The redirect URI with `values`, `state` and `iss` (RFC 9207) added to its
        query, keeping the query it has (RFC 6749 §3.1.2)."""
        values = {**values}
        if self.state is not None:
            values["state"] = self.state
        values["iss"] = self.issuer
        parts = urlsplit(self.redirect_uri)
        query = "&".join(q for q in (parts.query, urlencode(values)) if q)
        return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))

    def refuse(self, error: str, description: str) -> RedirectedError:
        return RedirectedError(self, error, description)


def redirect_uri_registered(client: ClientRecord, uri: str) -> bool:
    """Exact string match (RFC 9700 §2.1), except that a loopback IP redirect may use any
    port (RFC 8252 §7.3)."""
    if uri in client.redirect_uris:
        return True
    asked = _without_port(uri)
    return asked is not None and any(_without_port(r) == asked for r in client.redirect_uris)


def _without_port(uri: str) -> str | None:
    """A loopback `http` URI with its port taken out; None for any other URI."""
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018  (raises ValueError on a malformed port)
    except ValueError:
        return None
    # No user info: "http://127.0.0.1:1@evil.example/" names evil.example.
    if parts.scheme != "http" or parts.hostname not in LOOPBACK_HOSTS or "@" in parts.netloc:
        return None
    host = "[::1]" if parts.hostname == "::1" else parts.hostname
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def single_values(params: Sequence[tuple[str, str]]) -> tuple[dict[str, str], set[str]]:
    """The parameters as one value each, and the names sent more than once."""
    values: dict[str, str] = {}
    repeated: set[str] = set()
    for name, value in params:
        if name in values:
            repeated.add(name)
        values[name] = value
    return values, repeated


async def checked_request(
    clients: ClientStore, issuer: str, params: Sequence[tuple[str, str]]
) -> AuthorizationRequest:
    """Check a request; raise AuthorizationPageError or RedirectedError."""
    values, repeated = single_values(params)
    # The client and its redirect URI first: until both are known good, nothing may
    # be redirected anywhere.
    client_id = values.get("client_id", "")
    if "client_id" in repeated or not client_id:
        raise AuthorizationPageError("The request names no client (client_id).")
    client = await clients.by_id(client_id) if len(client_id) <= 256 else None
    if client is None or "authorization_code" not in client.grant_types:
        raise AuthorizationPageError("The app asking you to sign in is not registered.")
    redirect_uri = values.get("redirect_uri", "")
    if "redirect_uri" in repeated or not redirect_uri:
        raise AuthorizationPageError("The request names no redirect_uri.")
    if not redirect_uri_registered(client, redirect_uri):
        raise AuthorizationPageError(
            "The app's redirect URI is not one registered for it; you were not sent back."
        )
    request = AuthorizationRequest(
        client=client,
        redirect_uri=redirect_uri,
        scopes=(),
        state=values.get("state"),
        nonce=values.get("nonce"),
        code_challenge="",
        prompt=frozenset(),
        max_age=None,
        login_hint=values.get("login_hint") or None,
        issuer=issuer,
        params={k: v for k, v in values.items() if k in PARAMETERS},
    )
    if repeated & set(PARAMETERS):
        raise request.refuse(
            "invalid_request", f"Sent more than once: {', '.join(sorted(repeated))}."
        )
    if sum(len(v) for v in request.params.values()) > MAX_PARAMETERS_LENGTH:
        raise request.refuse("invalid_request", "The request's parameters are too long.")
    return _checked(request, values)


def _checked(request: AuthorizationRequest, values: Mapping[str, str]) -> AuthorizationRequest:
    """The checks whose failure goes back to the client (RFC 6749 §4.1.2.1)."""
    if "request" in values or "request_uri" in values:
        # OIDC Core §6: request objects are not supported.
        error = "request_not_supported" if "request" in values else "request_uri_not_supported"
        raise request.refuse(error, "Request objects are not supported.")
    response_type = values.get("response_type")
    if not response_type:
        raise request.refuse("invalid_request", "The request has no response_type.")
    if response_type != "code":
        raise request.refuse("unsupported_response_type", "Only response_type=code is supported.")
    # PKCE with S256 for every client (RFC 9700 §2.1.1); `plain` and no method (which
    # RFC 7636 §4.3 reads as plain) are refused: a downgrade.
    challenge = values.get("code_challenge")
    if not challenge:
        raise request.refuse("invalid_request", "PKCE is required: send a code_challenge.")
    if values.get("code_challenge_method") != "S256":
        raise request.refuse("invalid_request", "PKCE must use code_challenge_method=S256.")
    if not S256_CHALLENGE.fullmatch(challenge):
        raise request.refuse(
            "invalid_request", "The code_challenge is not a base64url SHA-256 (43 characters)."
        )
    prompt = frozenset(values.get("prompt", "").split())
    if prompt - PROMPTS:
        raise request.refuse("invalid_request", "prompt may be none, login and consent.")
    if "none" in prompt and len(prompt) > 1:
        # OIDC Core §3.1.2.1: none with any other value is an error.
        raise request.refuse("invalid_request", "prompt=none cannot be combined.")
    max_age = None
    if "max_age" in values:
        raw = values["max_age"]
        if not raw.isdigit() or len(raw) > 10:
            raise request.refuse("invalid_request", "max_age is a number of seconds.")
        max_age = int(raw)
    if not values.get("scope"):
        raise request.refuse("invalid_scope", "The request names no scope.")
    try:
        requested = parse_scope(values["scope"])
    except InvalidScope as exc:
        raise request.refuse("invalid_scope", exc.description) from exc
    allowed = set(request.client.scope.split())
    scopes = tuple(s for s in requested if s in allowed)
    if not scopes:
        raise request.refuse("invalid_scope", "None of the requested scopes is allowed this app.")
    return replace(request, scopes=scopes, code_challenge=challenge, prompt=prompt, max_age=max_age)
