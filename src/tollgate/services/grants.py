"""Token pairs: starting a session after a login, and rotating its refresh token.

Every refresh token is used once. Using it marks it used and issues its child in one
store operation (one round trip on PostgreSQL, one hop on SQLite). Presenting a used
token again is theft or a retry: a replay of the session's immediately previous token
within the reuse interval gets the current pair back (several tabs, a lost response);
anything else revokes the whole session.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tollgate.clock import Clock, SystemClock
from tollgate.errors import InvalidGrant, InvalidToken
from tollgate.events import (
    MAX_USER_AGENT,
    NO_CLIENT,
    ClientInfo,
    Counted,
    Event,
    EventBus,
    SessionsEnded,
)
from tollgate.services.scopes import EVERY_USERS_SCOPES, narrow
from tollgate.services.sessions import end_session
from tollgate.settings import Settings
from tollgate.store.interfaces import SessionStore
from tollgate.store.records import (
    AlreadyUsed,
    NotUsable,
    RefreshTokenRecord,
    RotationRequest,
    SessionRecord,
    UserRecord,
)
from tollgate.tokens.checking import TokenChecker
from tollgate.tokens.issuing import TokenIssuer, new_jti
from tollgate.verify.dpop import InvalidDPoPProof

__all__ = ["NO_CLIENT", "ClientInfo", "Grants", "TokenPair", "child_jti", "token_id"]

REUSE_REASON = "refresh_token_reused"
REUSE_EVENT = "refresh_reuse_detected"


@dataclass(frozen=True)
class TokenPair:
    session_id: uuid.UUID
    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int
    scope: str
    # RFC 9449 §5: "DPoP" when the access token is bound to the client's key.
    token_type: str = "Bearer"  # noqa: S105  (a scheme, not a secret)


def token_id(jti: str) -> str:
    """Rows are keyed by a hash of the jti, so a database read alone yields no token id."""
    return hashlib.sha256(jti.encode("utf-8")).hexdigest()


def child_jti(parent_jti: str, salt: bytes) -> str:
    """Only a holder of the parent token (plus the stored salt) can name its child."""
    digest = hmac.new(parent_jti.encode("utf-8"), salt, hashlib.sha256).digest()
    return digest.hex()


@dataclass(eq=False)
class Grants:
    # What it uses, given by the composition root (services/container.py).
    _sessions: SessionStore
    _issuer: TokenIssuer
    _checker: TokenChecker
    _settings: Settings
    _events: EventBus
    _clock: Clock = field(default_factory=SystemClock)

    async def start_session(
        self,
        user: UserRecord,
        requested_scope: str | None,
        client: ClientInfo,
        *,
        records: tuple[str, ...] = (),
        jkt: str | None = None,
        amr: str = "pwd",
    ) -> TokenPair:
        """A new session and its first pair. `records`: names of audit events stored
        with the session (e.g. "login_succeeded") and published once it is. `jkt`: the
        DPoP key of the request's proof: the session's tokens are bound to it. `amr`: how
        the user authenticated (RFC 8176, space-separated); the session keeps it, so every
        access token of it says so, after each refresh too."""
        scope = narrow(user.scope, requested_scope)
        now = self._clock.now()
        session = SessionRecord(
            id=uuid.uuid4(),
            user_id=user.id,
            scope=scope,
            created_at=now,
            last_used_at=now,
            expires_at=now + timedelta(seconds=self._settings.session_max_age),
            user_agent=(client.user_agent or "")[:MAX_USER_AGENT] or None,
            ip=client.ip,
            dpop_jkt=jkt,
            amr=amr,
        )
        jti = new_jti()
        record = RefreshTokenRecord(
            id=token_id(jti),
            session_id=session.id,
            issued_at=now,
            expires_at=self._refresh_expiry(now, session),
        )
        events = [
            Event(
                name,
                now,
                user_id=user.id,
                username=user.username,
                session_id=session.id,
                client=client,
            )
            for name in records
        ]
        await self._sessions.start(session, record, [e.audit_record() for e in events])
        for event in events:
            await self._events.publish(event)
        return await self._pair(user, session, scope, jti, record, now)

    async def refresh(
        self,
        refresh_token: str,
        requested_scope: str | None,
        client: ClientInfo = NO_CLIENT,
        *,
        client_id: str | None = None,
        jkt: str | None = None,
    ) -> TokenPair:
        """Rotate a refresh token. `client_id`: the authenticated client presenting it at
        the token endpoint; None for first-party callers (/refresh, the password grant's
        clients). A token of an app's session (issue 14) is usable only by that app, and
        an app never uses a first-party token (RFC 6749 §6: the refresh token is bound to
        the client it was issued to). `jkt`: the DPoP key of the request's proof, None
        without one; a bound token needs its own key's (RFC 9449 §5)."""
        try:
            claims = await self._checker.refresh(refresh_token)
        except InvalidToken as exc:
            await self._events.publish(Counted("refresh_refused"))
            raise InvalidGrant(f"The refresh token is not usable: {exc.description}") from exc
        if claims.client_id != client_id:
            # Checked before the rotation, from the signed claim: nothing is used up.
            await self._events.publish(Counted("refresh_refused"))
            raise InvalidGrant("The refresh token was not issued to this client.")
        if claims.jkt is not None and claims.jkt != jkt:
            # Checked from the signed claim before the rotation: a thief's attempt, with
            # no proof or another key's, uses nothing up and ends nothing (RFC 9449 §5).
            await self._events.publish(Counted("refresh_refused"))
            raise InvalidDPoPProof(
                "The refresh token is bound to a key: send a DPoP proof made with it."
            )
        now = self._clock.now()
        salt = secrets.token_bytes(16)
        child = child_jti(claims.jti, salt)
        outcome = await self._sessions.rotate(
            RotationRequest(
                token_id=token_id(claims.jti),
                session_id=claims.sid,
                user_id=claims.sub,
                child_id=token_id(child),
                child_salt=salt,
                now=now,
                refresh_ttl=timedelta(seconds=self._settings.refresh_ttl),
            )
        )
        if isinstance(outcome, NotUsable):
            await self._events.publish(Counted("refresh_refused"))
            raise InvalidGrant(outcome.reason)
        if isinstance(outcome, AlreadyUsed):
            current = self._replayed_child(outcome, claims.jti, now)
            if current is None:
                await self._revoke_on_reuse(outcome, client, now)
                await self._events.publish(Counted("refresh_refused"))
                raise InvalidGrant("The refresh token was already used; the session is revoked.")
            await self._events.publish(Counted("refresh_replayed"))
            session, user, jti, record = outcome.session, outcome.user, current[0], current[1]
        else:
            await self._events.publish(Counted("refresh_rotated"))
            session, user, jti, record = outcome.session, outcome.user, child, outcome.child
        granted = narrow(session.scope, None)
        # A scope taken from the user since the login is no longer granted (the OpenID
        # Connect scopes of an app's session are every user's own).
        held = set(user.scope.split()) | (EVERY_USERS_SCOPES if session.client_id else set())
        granted = " ".join(s for s in granted.split() if s in held)
        scope = narrow(granted, requested_scope)
        # An unbound session stays unbound, but a proof sent with its refresh binds the
        # new access token (RFC 9449 §5, as for a confidential client).
        return await self._pair(user, session, scope, jti, record, now, jkt)

    def _replayed_child(
        self, outcome: AlreadyUsed, jti: str, now: datetime
    ) -> tuple[str, RefreshTokenRecord] | None:
        """The current token again, if this is a replay of its parent within the reuse
        interval (a lost answer, another tab); None for any other reuse."""
        token, child = outcome.token, outcome.child
        interval = timedelta(seconds=self._settings.refresh_reuse_interval)
        if (
            child is None
            or child.used_at is not None
            or child.derivation_salt is None
            or token.used_at is None
            or now - token.used_at > interval
        ):
            return None
        current = child_jti(jti, child.derivation_salt)
        # Only the holder of the parent token can name its child (HMAC with the salt).
        return (current, child) if token_id(current) == child.id else None

    async def _revoke_on_reuse(
        self, outcome: AlreadyUsed, client: ClientInfo, now: datetime
    ) -> None:
        event = SessionsEnded(
            REUSE_EVENT,
            now,
            user_id=outcome.user.id,
            session_id=outcome.session.id,
            client=client,
            detail="a used refresh token was presented again; the session was revoked",
        )
        await end_session(self._sessions, self._events, event, reason=REUSE_REASON)

    def _refresh_expiry(self, now: datetime, session: SessionRecord) -> datetime:
        sliding = now + timedelta(seconds=self._settings.refresh_ttl)
        return min(sliding, session.expires_at)

    async def _pair(
        self,
        user: UserRecord,
        session: SessionRecord,
        scope: str,
        jti: str,
        record: RefreshTokenRecord,
        now: datetime,
        proof_jkt: str | None = None,
    ) -> TokenPair:
        now_ts = int(now.timestamp())
        access_jkt = session.dpop_jkt or proof_jkt
        refresh_exp = int(record.expires_at.timestamp())
        access = await self._issuer.access_token(
            user_id=user.id,
            username=user.username,
            session_id=session.id,
            scope=scope,
            now=now_ts,
            client_id=session.client_id,
            jkt=access_jkt,
            amr=session.amr,
        )
        refresh = await self._issuer.refresh_token(
            user_id=user.id,
            session_id=session.id,
            jti=jti,
            iat=int(record.issued_at.timestamp()),
            exp=refresh_exp,
            client_id=session.client_id,
            jkt=session.dpop_jkt,
        )
        return TokenPair(
            session_id=session.id,
            access_token=access,
            expires_in=self._settings.access_ttl,
            refresh_token=refresh,
            refresh_expires_in=max(0, refresh_exp - now_ts),
            scope=scope,
            token_type="DPoP" if access_jkt else "Bearer",
        )
