"""The authorization endpoint's rules (RFC 6749 §4.1.1-§4.1.2, RFC 7636, RFC 9207, OpenID
Connect Core 1.0 §3.1.2): which requests are refused and how, when the browser must log in
or consent, and the code it gets.

The request's own checks (and the two kinds of refusal) are in authorization_request.py.

Scopes: granted = client-allowed ∩ requested ∩ the user's own ∩ consented, where the
OpenID Connect scopes count as everyone's own.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tollgate.clock import Clock, SystemClock
from tollgate.events import ClientInfo, Event, EventBus
from tollgate.services.authorization_request import (
    AuthorizationPageError,
    AuthorizationRequest,
    RedirectedError,
    checked_request,
)
from tollgate.services.browser_session import SignedIn
from tollgate.services.codes import code_id
from tollgate.services.scopes import EVERY_USERS_SCOPES
from tollgate.store.interfaces import AuthorizationCodeStore, ClientStore, ConsentStore
from tollgate.store.records import AuthorizationCodeRecord, ConsentGrant, HeldConsent

__all__ = [
    "Authorization",
    "AuthorizationPageError",
    "AuthorizationRequest",
    "CodeIssued",
    "ConsentNeeded",
    "LoginNeeded",
    "Outcome",
    "RedirectedError",
]

CODE_LIFETIME = timedelta(seconds=60)
ANSWERED = "This consent form was already answered. Go back to the app and sign in again."


@dataclass(frozen=True)
class LoginNeeded:
    request: AuthorizationRequest


@dataclass(frozen=True)
class ConsentNeeded:
    request: AuthorizationRequest
    signed_in: SignedIn
    offered: tuple[str, ...]  # what the page lists, one checkbox each
    # When the consent held was last chosen ("" if none): a consent form posted after
    # another answer was recorded (a replay, a second tab) is refused.
    version: str


@dataclass(frozen=True)
class CodeIssued:
    location: str  # the redirect URI with code, state and iss
    scope: str


Outcome = LoginNeeded | ConsentNeeded | CodeIssued


@dataclass(eq=False)
class Authorization:
    # What it uses, given by the composition root (services/container.py).
    _clients: ClientStore
    _codes: AuthorizationCodeStore
    _consents: ConsentStore
    _events: EventBus
    _issuer: str
    _clock: Clock = field(default_factory=SystemClock)

    async def validate(self, params: Sequence[tuple[str, str]]) -> AuthorizationRequest:
        """Check a request; raise AuthorizationPageError or RedirectedError."""
        return await checked_request(self._clients, self._issuer, params)

    async def decide(
        self,
        request: AuthorizationRequest,
        signed_in: SignedIn | None,
        client: ClientInfo,
        *,
        just_logged_in: bool = False,
    ) -> Outcome:
        """What the browser gets next: the login page, the consent page, or a code."""
        if signed_in is None or (not just_logged_in and self._must_log_in(request, signed_in)):
            if "none" in request.prompt:
                # OIDC Core §3.1.2.6: no page may be shown.
                raise request.refuse("login_required", "The user is not signed in.")
            return LoginNeeded(request)
        offered = self.offered(request, signed_in)
        if request.client.trusted:
            return await self.issue(request, signed_in, offered, client)
        held = await self._consents.get(signed_in.user.id, request.client.client_id)
        covered = held is not None and set(offered) <= set(held.scope.split())
        if covered and "consent" not in request.prompt:
            return await self.issue(request, signed_in, offered, client)
        if "none" in request.prompt:
            raise request.refuse("consent_required", "The user has not allowed this app yet.")
        version = held.granted_at.isoformat() if held is not None else ""
        return ConsentNeeded(request, signed_in, offered, version)

    def _must_log_in(self, request: AuthorizationRequest, signed_in: SignedIn) -> bool:
        if "login" in request.prompt:
            return True
        if request.max_age is None:
            return False
        # OIDC Core §3.1.2.1 max_age: authenticate again when the last login is older.
        return self._clock.timestamp() - signed_in.auth_time > request.max_age

    def offered(self, request: AuthorizationRequest, signed_in: SignedIn) -> tuple[str, ...]:
        """Requested ∩ client-allowed ∩ the user's own; refused if nothing is left."""
        own = EVERY_USERS_SCOPES | set(signed_in.user.scope.split())
        offered = tuple(s for s in request.scopes if s in own)
        if not offered:
            raise request.refuse(
                "invalid_scope", "None of the requested scopes can be given to this user."
            )
        return offered

    async def consent(
        self,
        request: AuthorizationRequest,
        signed_in: SignedIn,
        chosen: Sequence[str],
        version: str,
        client: ClientInfo,
    ) -> CodeIssued:
        """The user allowed `chosen` of the scopes offered: record it, issue the code."""
        offered = self.offered(request, signed_in)
        held = await self._consents.get(signed_in.user.id, request.client.client_id)
        if (held.granted_at.isoformat() if held is not None else "") != version:
            raise AuthorizationPageError(ANSWERED)
        # `openid` cannot be unchecked: without it there is no sign-in to speak of.
        given = tuple(s for s in offered if s in chosen or s == "openid")
        now = self._clock.now()
        event = Event(
            "consent.granted",
            now,
            user_id=signed_in.user.id,
            username=signed_in.user.username,
            session_id=signed_in.session.id,
            client=client,
            detail=f"client {request.client.client_id}: {' '.join(given) or '(nothing)'}",
        )
        stored = await self._consents.grant(
            ConsentGrant(
                user_id=signed_in.user.id,
                client_id=request.client.client_id,
                asked=" ".join(offered),
                chosen=" ".join(given),
                now=now,
                audit=[event.audit_record()],
                answering=HeldConsent(held.granted_at if held is not None else None),
            )
        )
        if stored is None:
            # The same form posted twice at once: the first answer is the one recorded.
            raise AuthorizationPageError(ANSWERED)
        await self._events.publish(event)
        if not given:
            raise request.refuse("access_denied", "No scope was allowed.")
        return await self.issue(request, signed_in, given, client)

    async def issue(
        self,
        request: AuthorizationRequest,
        signed_in: SignedIn,
        scopes: Sequence[str],
        client: ClientInfo,
    ) -> CodeIssued:
        """A single-use code (RFC 6749 §4.1.2) bound to everything the exchange must match."""
        code = secrets.token_urlsafe(32)
        now = self._clock.now()
        scope = " ".join(scopes)
        event = Event(
            "code.issued",
            now,
            user_id=signed_in.user.id,
            username=signed_in.user.username,
            session_id=signed_in.session.id,
            client=client,
            detail=f"client {request.client.client_id}: {scope}",
        )
        await self._codes.add(
            AuthorizationCodeRecord(
                id=code_id(code),
                client_id=request.client.client_id,
                user_id=signed_in.user.id,
                redirect_uri=request.redirect_uri,
                scope=scope,
                code_challenge=request.code_challenge,
                nonce=request.nonce,
                login_session_id=signed_in.session.id,
                auth_time=_utc(signed_in.auth_time),
                issued_at=now,
                expires_at=now + CODE_LIFETIME,
            ),
            [event.audit_record()],
        )
        await self._events.publish(event)
        return CodeIssued(request.answer(code=code), scope)


def _utc(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)
