"""The token endpoint's `authorization_code` grant for other apps (issue 14): RFC 6749
§4.1.3, RFC 7636 §4.5-4.6, OIDC Core §3.1.3. (`client_credentials`: client_credentials.py.)

Refreshing an app's session is `Grants.refresh` (one rotation for every session): the
session started here names its client, and so do its refresh tokens.
"""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, NoReturn

from tollgate.clock import Clock, SystemClock
from tollgate.errors import InvalidGrant, InvalidRequest, UnauthorizedClient
from tollgate.events import MAX_USER_AGENT, ClientInfo, Counted, Event, EventBus, SessionsEnded
from tollgate.services.audit import AuditTrail
from tollgate.services.clients import AUTHORIZATION_CODE, REFRESH_TOKEN
from tollgate.services.codes import code_id
from tollgate.services.grants import token_id
from tollgate.services.scopes import format_scope
from tollgate.services.sessions import end_session
from tollgate.settings import Settings
from tollgate.store.interfaces import AuthorizationCodeStore, SessionStore, UserStore
from tollgate.store.records import (
    AuthorizationCodeRecord,
    ClientRecord,
    CodeExchange,
    Consumed,
    RefreshTokenRecord,
    Replayed,
    SessionRecord,
    UserRecord,
)
from tollgate.tokens.id_tokens import IdTokenClaims, IdTokenIssuer, authentication, scope_claims
from tollgate.tokens.issuing import TokenIssuer, new_jti

# RFC 7636 §4.1: code-verifier = 43*128unreserved
CODE_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
REPLAY_REASON = "authorization_code_replayed"
# Why a code is refused (AuthorizationCodeStore.consume's reasons), for the client.
REFUSALS = {
    "unknown": "The code is unknown.",
    "expired": "The code has expired.",
    "client": "The code was issued to another client.",
    "redirect_uri": "The redirect_uri does not match the authorization request's.",
    "code_verifier": "The code_verifier does not match the code_challenge.",
    "user": "The code's user no longer exists or is disabled.",
}


@dataclass(frozen=True)
class IssuedTokens:
    """A token response (RFC 6749 §5.1, OIDC Core §3.1.3.3)."""

    access_token: str
    expires_in: int
    scope: str
    refresh_token: str | None = None
    refresh_expires_in: int | None = None
    id_token: str | None = None
    token_type: str = "Bearer"  # noqa: S105  ("DPoP" when bound to the client's key)

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "access_token": self.access_token,
            "token_type": self.token_type,
            "expires_in": self.expires_in,
            "scope": self.scope,
        }
        if self.refresh_token is not None:
            body["refresh_token"] = self.refresh_token
            body["refresh_expires_in"] = self.refresh_expires_in
        if self.id_token is not None:
            body["id_token"] = self.id_token
        return body


def s256(code_verifier: str) -> str:
    """RFC 7636 §4.2: BASE64URL-ENCODE(SHA256(ASCII(code_verifier))), no padding."""
    digest = hashlib.sha256(code_verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(eq=False)
class CodeGrant:
    # What it uses, given by the composition root (services/container.py).
    _codes: AuthorizationCodeStore
    _sessions: SessionStore
    _users: UserStore
    _issuer: TokenIssuer
    _id_tokens: IdTokenIssuer
    _audit: AuditTrail
    _settings: Settings
    _events: EventBus
    _clock: Clock = field(default_factory=SystemClock)

    async def exchange(
        self,
        client: ClientRecord,
        code: str,
        redirect_uri: str,
        code_verifier: str | None,
        info: ClientInfo,
        jkt: str | None = None,
    ) -> IssuedTokens:
        """Use an authorization code once: a new session of `client`, its tokens, and an
        ID token when `openid` was granted. A code used before revokes what it issued.
        `jkt`: the DPoP key of the request's proof; the access tokens are bound to it,
        and so are a public client's refresh tokens (RFC 9449 §5: a confidential client
        proves itself at every refresh anyway)."""
        if AUTHORIZATION_CODE not in client.grant_types:
            raise UnauthorizedClient("This client is not registered for authorization_code.")
        # RFC 9700 §2.1.1: PKCE for every client; every code has an S256 challenge.
        if code_verifier is None:
            raise InvalidRequest("The authorization_code grant needs code_verifier (PKCE).")
        if not CODE_VERIFIER.fullmatch(code_verifier):
            raise InvalidRequest("code_verifier must be 43 to 128 of A-Z a-z 0-9 - . _ ~.")
        now = self._clock.now()
        stored = await self._codes.by_id(code_id(code))
        if stored is None:
            await self._refused(client, "unknown", None, info, now)
        user = await self._users.by_id(stored.user_id)
        if user is None or user.disabled:
            await self._refused(client, "user", stored, info, now)
        # The scopes in one order, as every other token response has them.
        stored = replace(stored, scope=format_scope(set(stored.scope.split())))
        session, first_token, jti = self._new_session(client, stored, info, now)
        # The app's session was authenticated as the browser's Tollgate login was (its
        # amr, RFC 8176; issue 18): a password, or a password and a second factor.
        login = (
            await self._sessions.live(stored.login_session_id, now)
            if stored.login_session_id is not None
            else None
        )
        session = replace(session, amr=login.amr if login is not None else None)
        if client.public:
            session = replace(session, dpop_jkt=jkt)
        audit = Event(
            "code.exchanged",
            now,
            user_id=user.id,
            username=user.username,
            session_id=session.id,
            client=info,
            detail=f"client {client.client_id}, scope {stored.scope!r}",
        )
        outcome = await self._codes.consume(
            CodeExchange(
                code_id=stored.id,
                client_id=client.client_id,
                redirect_uri=redirect_uri,
                code_challenge=s256(code_verifier),
                now=now,
                session=session,
                first_token=first_token,
                audit=[audit.audit_record()],
            )
        )
        if isinstance(outcome, Replayed):
            await self._revoke_replayed(client, outcome.code, info, now)
            raise InvalidGrant("The code was already used; the tokens issued for it are revoked.")
        if not isinstance(outcome, Consumed):
            await self._refused(client, outcome.reason, outcome.code, info, now)
        await self._events.publish(audit)
        return await self._tokens(client, user, stored, session, first_token, jti, now, jkt)

    def _new_session(
        self,
        client: ClientRecord,
        code: AuthorizationCodeRecord,
        info: ClientInfo,
        now: datetime,
    ) -> tuple[SessionRecord, RefreshTokenRecord | None, str | None]:
        session = SessionRecord(
            id=uuid.uuid4(),
            user_id=code.user_id,
            scope=code.scope,
            created_at=now,
            last_used_at=now,
            expires_at=now + timedelta(seconds=self._settings.session_max_age),
            user_agent=(info.user_agent or "")[:MAX_USER_AGENT] or None,
            ip=info.ip,
            client_id=client.client_id,
        )
        if REFRESH_TOKEN not in client.grant_types:
            return session, None, None
        jti = new_jti()
        first = RefreshTokenRecord(
            id=token_id(jti),
            session_id=session.id,
            issued_at=now,
            expires_at=min(now + timedelta(seconds=self._settings.refresh_ttl), session.expires_at),
        )
        return session, first, jti

    async def _tokens(
        self,
        client: ClientRecord,
        user: UserRecord,
        code: AuthorizationCodeRecord,
        session: SessionRecord,
        first_token: RefreshTokenRecord | None,
        jti: str | None,
        now: datetime,
        jkt: str | None,
    ) -> IssuedTokens:
        now_ts = int(now.timestamp())
        access = await self._issuer.access_token(
            user_id=user.id,
            username=user.username,
            session_id=session.id,
            scope=code.scope,
            now=now_ts,
            client_id=client.client_id,
            jkt=jkt,
            amr=session.amr,
        )
        issued = IssuedTokens(
            access_token=access,
            expires_in=self._settings.access_ttl,
            scope=code.scope,
            token_type="DPoP" if jkt else "Bearer",
        )
        if first_token is not None and jti is not None:
            refresh_exp = int(first_token.expires_at.timestamp())
            refresh = await self._issuer.refresh_token(
                user_id=user.id,
                session_id=session.id,
                jti=jti,
                iat=now_ts,
                exp=refresh_exp,
                client_id=client.client_id,
                jkt=session.dpop_jkt,
            )
            issued = replace(
                issued, refresh_token=refresh, refresh_expires_in=max(0, refresh_exp - now_ts)
            )
        if "openid" in code.scope.split():
            id_token = await self._id_tokens.issue(
                IdTokenClaims(
                    sub=str(user.id),
                    client_id=client.client_id,
                    auth_time=int(code.auth_time.timestamp()),
                    # OIDC Front/Back-Channel Logout §2.1 (and RP-Initiated Logout): the
                    # browser's Tollgate login, which /end-session ends.
                    sid=str(code.login_session_id) if code.login_session_id else None,
                    nonce=code.nonce,
                    extra={**scope_claims(user, code.scope), **authentication(session.amr)},
                ),
                access,
                client.id_token_signed_response_alg,
                now_ts,
            )
            issued = replace(issued, id_token=id_token)
        return issued

    async def _refused(
        self,
        client: ClientRecord,
        reason: str,
        code: AuthorizationCodeRecord | None,
        info: ClientInfo,
        now: datetime,
    ) -> NoReturn:
        await self._audit.record(
            Event(
                "code.refused",
                now,
                user_id=code.user_id if code is not None else None,
                client=info,
                detail=f"client {client.client_id}: {reason}",
            )
        )
        raise InvalidGrant(REFUSALS.get(reason, "The code is not usable."))

    async def _revoke_replayed(
        self, client: ClientRecord, code: AuthorizationCodeRecord, info: ClientInfo, now: datetime
    ) -> None:
        """RFC 6749 §4.1.2: a code used twice revokes the tokens issued from it (their
        session); whoever presents it the second time, its first exchange is suspect."""
        await self._events.publish(Counted("code_replayed"))
        detail = f"code presented again by client {client.client_id}"
        if code.session_id is None:  # pragma: no cover - a used code names its session
            await self._audit.record(Event("code.replayed", now, client=info, detail=detail))
            return
        event = SessionsEnded(
            "code.replayed",
            now,
            user_id=code.user_id,
            session_id=code.session_id,
            client=info,
            detail=detail + "; the session it started was revoked",
        )
        if not await end_session(self._sessions, self._events, event, reason=REPLAY_REASON):
            # Already ended (logged out, or a third presentation): audit it anyway.
            await self._audit.record(
                Event("code.replayed", now, user_id=code.user_id, client=info, detail=detail)
            )
