"""Registered OAuth 2.0 clients: apps that sign their users in with Tollgate (issue 14),
services acting for themselves (client_credentials), and resource servers that introspect
or revoke tokens. Registration, client authentication at the token endpoint, deletion."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from tollgate.clock import Clock, SystemClock
from tollgate.errors import InvalidClient, InvalidInput, InvalidScope, NotFound
from tollgate.events import EventBus, SessionsEnded
from tollgate.keys.keyring import Keyring
from tollgate.services.names import storable
from tollgate.services.scopes import format_scope, parse_scope
from tollgate.services.sessions import end_session
from tollgate.store.interfaces import ClientStore, SessionStore
from tollgate.store.records import ClientRecord, Conflict

# Compared against when the client id is unknown, so both failures cost the same.
_NO_SUCH_CLIENT = hashlib.sha256(b"no such client").hexdigest()

AUTHORIZATION_CODE = "authorization_code"
REFRESH_TOKEN = "refresh_token"  # noqa: S105 - a grant type's name
CLIENT_CREDENTIALS = "client_credentials"
GRANT_TYPES = (AUTHORIZATION_CODE, REFRESH_TOKEN, CLIENT_CREDENTIALS)
# Without --grant, a client with redirect URIs signs users in and keeps them signed in.
DEFAULT_GRANTS = (AUTHORIZATION_CODE, REFRESH_TOKEN)
# Without --scope, what a sign-in asks of every user (OIDC Core §5.4).
DEFAULT_SIGN_IN_SCOPE = "openid profile email"
ID_TOKEN_ALGS = ("RS256", "ES256", "EdDSA")
# RFC 8252 §8.3: loopback redirect URIs of native apps; "localhost" is allowed too, though
# RFC 8252 prefers the literal address (it may resolve elsewhere).
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
MAX_URI_LENGTH = 2000
# The revoke reason of the sessions a deleted client leaves.
CLIENT_DELETED = "client_deleted"


@dataclass(frozen=True)
class NewClient:
    client_id: str
    client_secret: str | None  # None for a public client
    name: str


@dataclass(frozen=True)
class Registration:
    """What `tollgate clients create` asks for (API.md, "Other apps sign in with Tollgate")."""

    name: str
    redirect_uris: Sequence[str] = ()
    post_logout_redirect_uris: Sequence[str] = ()
    public: bool = False
    scope: str | None = None
    grant_types: Sequence[str] | None = None
    trusted: bool = False
    id_token_alg: str = "RS256"  # noqa: S105 - an algorithm name


@dataclass(frozen=True)
class ClientCredentials:
    """How a client identified itself at the token endpoint (RFC 6749 §2.3.1): `secret`
    None for `none` (a public client sends only its id, RFC 6749 §2.1)."""

    client_id: str
    secret: str | None
    method: str  # "client_secret_basic", "client_secret_post" or "none"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def redirect_uri_problem(uri: str) -> str | None:
    """Why `uri` cannot be registered as a redirect URI, or None. RFC 6749 §3.1.2: absolute,
    no fragment; RFC 9700 §4.1 and §2.6: https, except http on the loopback interface
    (RFC 8252 §7.3) and a private-use scheme for native apps (RFC 8252 §7.1: a reverse
    domain name, which keeps out javascript:, data:, file: and the like)."""
    if len(uri) > MAX_URI_LENGTH or any(c.isspace() for c in uri) or not uri.isprintable():
        return f"\u201c{uri[:80]}\u201d is not a URI (spaces, control characters or too long)."
    try:
        parts = urlsplit(uri)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return f"\u201c{uri}\u201d is not a valid URI."
    if not parts.scheme:
        return f"\u201c{uri}\u201d is not absolute: it needs a scheme (https://...)."
    if "#" in uri:
        return f"\u201c{uri}\u201d has a fragment (#...), which a redirect URI must not have."
    scheme = parts.scheme.lower()
    if scheme == "https":
        return None if host else f"\u201c{uri}\u201d names no host."
    if scheme == "http":
        if host in LOOPBACK_HOSTS:
            return None
        return f"\u201c{uri}\u201d uses http: only https, or http on 127.0.0.1, [::1] or localhost."
    if "." in scheme:
        return None
    return (
        f"\u201c{uri}\u201d: a native app's own scheme must be a reverse domain name "
        "(com.example.app:/callback, RFC 8252 §7.1); other apps use https."
    )


def _checked(registration: Registration) -> tuple[tuple[str, ...], str]:
    """The grant types and scope to store, or InvalidInput naming what is wrong."""
    problems: dict[str, str] = {}
    if not 1 <= len(registration.name) <= 128:
        problems["name"] = "A client name needs 1 to 128 characters."
    for label, uris in (
        ("redirect_uri", registration.redirect_uris),
        ("post_logout_redirect_uri", registration.post_logout_redirect_uris),
    ):
        found = next((p for p in map(redirect_uri_problem, uris) if p is not None), None)
        if found is not None:
            problems[label] = found
    if registration.grant_types is not None:
        grants = tuple(dict.fromkeys(registration.grant_types))
    else:
        grants = DEFAULT_GRANTS if registration.redirect_uris else ()
    unknown = [g for g in grants if g not in GRANT_TYPES]
    if unknown:
        problems["grant"] = f"Unknown grant type {unknown[0]!r}: use {', '.join(GRANT_TYPES)}."
    if AUTHORIZATION_CODE in grants and not registration.redirect_uris:
        problems["redirect_uri"] = "The authorization_code grant needs at least one --redirect-uri."
    if REFRESH_TOKEN in grants and AUTHORIZATION_CODE not in grants:
        problems["grant"] = "The refresh_token grant comes with authorization_code."
    if CLIENT_CREDENTIALS in grants and registration.public:
        # RFC 6749 §4.4: only a confidential client can authenticate as itself.
        problems["grant"] = "A public client cannot use client_credentials: it has no secret."
    if registration.id_token_alg not in ID_TOKEN_ALGS:
        problems["id_token_alg"] = f"ID tokens are signed with {', '.join(ID_TOKEN_ALGS)}."
    default = DEFAULT_SIGN_IN_SCOPE if AUTHORIZATION_CODE in grants else ""
    scope = registration.scope if registration.scope is not None else default
    try:
        scope = format_scope(set(parse_scope(scope))) if scope.strip() else ""
    except InvalidScope as exc:
        problems["scope"] = exc.description
    if problems:
        raise InvalidInput(problems)
    return grants, scope


@dataclass(eq=False)
class Clients:
    # What it uses, given by the composition root (services/container.py).
    _store: ClientStore
    _sessions: SessionStore
    _keyring: Keyring
    _events: EventBus
    _clock: Clock = field(default_factory=SystemClock)

    async def register(self, registration: Registration | str) -> NewClient:
        """A new client; its secret (none for a public client) is shown once and stored
        only as a hash. A bare name registers a client that only introspects and revokes."""
        if isinstance(registration, str):
            registration = Registration(registration)
        grants, scope = _checked(registration)
        alg = registration.id_token_alg
        if AUTHORIZATION_CODE in grants and alg not in await self._keyring.id_token_algorithms():
            raise InvalidInput(
                {
                    "id_token_alg": f"No key signs {alg} here: RS256, or the algorithm of "
                    "access tokens (TOLLGATE_SIGNING_ALG) unless it is HS256."
                }
            )
        secret = None if registration.public else secrets.token_urlsafe(32)
        client = NewClient(
            client_id=f"tgc_{secrets.token_urlsafe(12)}",
            client_secret=secret,
            name=registration.name,
        )
        try:
            await self._store.add(
                ClientRecord(
                    client_id=client.client_id,
                    name=registration.name,
                    secret_hash=None if secret is None else _hash(secret),
                    created_at=self._clock.now(),
                    redirect_uris=tuple(registration.redirect_uris),
                    post_logout_redirect_uris=tuple(registration.post_logout_redirect_uris),
                    grant_types=grants,
                    scope=scope,
                    trusted=registration.trusted,
                    id_token_signed_response_alg=alg,
                )
            )
        except Conflict as exc:
            name = registration.name
            raise InvalidInput({"name": f"A client named \u201c{name}\u201d exists."}) from exc
        return client

    async def authenticate(self, client_id: str, client_secret: str) -> ClientRecord:
        """A confidential client by its secret, compared in constant time."""
        client = None
        if storable(client_id):
            client = await self._store.by_id(client_id)
        # A public client has no secret (RFC 6749 §2.1): no secret authenticates it.
        secret_hash = client.secret_hash if client is not None else None
        matches = hmac.compare_digest(secret_hash or _NO_SUCH_CLIENT, _hash(client_secret))
        if client is None or secret_hash is None or not matches:
            raise InvalidClient()
        return client

    async def authenticate_at_token_endpoint(self, credentials: ClientCredentials) -> ClientRecord:
        """RFC 6749 §2.3: `client_secret_basic` or `client_secret_post` for a confidential
        client; `none` (the id alone) only for a public client, which has nothing more to
        prove (its code is bound to a PKCE verifier instead, RFC 7636)."""
        if credentials.secret is not None:
            return await self.authenticate(credentials.client_id, credentials.secret)
        client = None
        if storable(credentials.client_id):
            client = await self._store.by_id(credentials.client_id)
        if client is None:
            raise InvalidClient("Unknown client.")
        if not client.public:
            raise InvalidClient("This client must authenticate with its secret.")
        return client

    async def exists(self, client_id: str) -> bool:
        return storable(client_id) and await self._store.by_id(client_id) is not None

    async def list(self) -> list[ClientRecord]:
        return await self._store.list()

    async def delete(self, name: str) -> int:
        """Remove a client (its codes and consents go with it) and end its users' sessions
        with it; how many sessions ended."""
        client = next((c for c in await self._store.list() if c.name == name), None)
        if client is None or not await self._store.delete_by_name(name):
            raise NotFound(f"No client named \u201c{name}\u201d.")
        now = self._clock.now()
        # sessions.client_id has no foreign key (a session outlives nothing it names);
        # an admin command may walk the live sessions.
        ended = 0
        for session in await self._sessions.all_live(now):
            if session.client_id != client.client_id:
                continue
            event = SessionsEnded(
                CLIENT_DELETED,
                now,
                user_id=session.user_id,
                session_id=session.id,
                detail=f"client {client.client_id} ({name}) was deleted",
            )
            ended += await end_session(self._sessions, self._events, event)
        return ended
