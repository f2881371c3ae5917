"""What a token's holder or a registered client may ask of any token:
its status (RFC 7662 introspection) and its end (RFC 7009 revocation)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tollgate.clock import Clock, SystemClock
from tollgate.errors import InvalidToken
from tollgate.events import NO_CLIENT, ClientInfo, EventBus, SessionsEnded
from tollgate.services.grants import token_id
from tollgate.services.sessions import end_session
from tollgate.settings import Settings
from tollgate.store.interfaces import SessionStore
from tollgate.tokens.checking import TokenChecker
from tollgate.tokens.claims import FIRST_PARTY_CLIENT

INACTIVE: dict[str, Any] = {"active": False}


@dataclass(eq=False)
class TokenControl:
    # What it uses, given by the composition root (services/container.py).
    _sessions: SessionStore
    _checker: TokenChecker
    _settings: Settings
    _events: EventBus
    _clock: Clock = field(default_factory=SystemClock)

    async def introspect(self, token: str, hint: str | None = None) -> dict[str, Any]:
        """RFC 7662 §2.2: the token's claims if it is usable right now, else inactive."""
        for kind in self._order(hint):
            status = await (self._access(token) if kind == "access_token" else self._refresh(token))
            if status is not None:
                return status
        return INACTIVE

    async def revoke(
        self, token: str, hint: str | None = None, client: ClientInfo = NO_CLIENT
    ) -> None:
        """RFC 7009 §2.1: end the token's session. Unknown or invalid tokens are ignored."""
        for kind in self._order(hint):
            try:
                claims = await (
                    self._checker.access(token)
                    if kind == "access_token"
                    else self._checker.refresh(token)
                )
            except InvalidToken:
                continue
            event = SessionsEnded(
                "revoked",
                self._clock.now(),
                user_id=claims.sub,
                session_id=claims.sid,
                client=client,
            )
            await end_session(self._sessions, self._events, event, owner=claims.sub)
            return

    @staticmethod
    def _order(hint: str | None) -> tuple[str, str]:
        # RFC 7009 §2.1: the hint only says where to look first.
        if hint == "refresh_token":
            return ("refresh_token", "access_token")
        return ("access_token", "refresh_token")

    async def _access(self, token: str) -> dict[str, Any] | None:
        try:
            claims = await self._checker.access(token)
        except InvalidToken:
            return None
        session = await self._sessions.live(claims.sid, self._clock.now())
        if session is None or session.user_id != claims.sub:
            return None
        return {
            "active": True,
            "token_type": "Bearer",
            "scope": claims.scope,
            "client_id": session.client_id or FIRST_PARTY_CLIENT,
            "username": claims.username,
            "sub": str(claims.sub),
            "sid": str(claims.sid),
            "aud": self._settings.audience,
            "iss": self._settings.issuer,
            "exp": claims.exp,
            "iat": claims.iat,
            "nbf": claims.iat,
            "jti": claims.jti,
        }

    async def _refresh(self, token: str) -> dict[str, Any] | None:
        try:
            claims = await self._checker.refresh(token)
        except InvalidToken:
            return None
        record = await self._sessions.refresh_token(token_id(claims.jti))
        session = await self._sessions.live(claims.sid, self._clock.now())
        if record is None or record.used_at is not None or session is None:
            return None
        if session.user_id != claims.sub or record.session_id != session.id:
            return None
        return {
            "active": True,
            "token_type": "refresh_token",
            "scope": session.scope,
            "client_id": session.client_id or FIRST_PARTY_CLIENT,
            "sub": str(claims.sub),
            "sid": str(claims.sid),
            "aud": self._settings.refresh_audience,
            "iss": self._settings.issuer,
            "exp": claims.exp,
            "iat": claims.iat,
        }
