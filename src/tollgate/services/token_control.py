"""What a token's holder or a registered client may ask of any token:
its status (RFC 7662 introspection) and its end (RFC 7009 revocation)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tollgate.errors import InvalidToken
from tollgate.services.audit import Audit
from tollgate.services.grants import NO_CLIENT, ClientInfo, token_id
from tollgate.settings import Settings
from tollgate.store import sessions as session_store
from tollgate.store.models import utcnow
from tollgate.tokens.checking import TokenChecker
from tollgate.tokens.claims import FIRST_PARTY_CLIENT

INACTIVE: dict[str, Any] = {"active": False}


class TokenControl:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        checker: TokenChecker,
        settings: Settings,
        audit: Audit,
        on_revoke: Callable[[], None] = lambda: None,
    ) -> None:
        self._db = sessionmaker
        self._checker = checker
        self._settings = settings
        self._audit = audit
        self._on_revoke = on_revoke

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
            async with self._db.begin() as db:
                ended = await session_store.revoke(
                    db, claims.sid, "revoked", utcnow(), owner=claims.sub
                )
            self._on_revoke()
            if ended:
                await self._audit.record(
                    "revoked", user_id=claims.sub, session_id=claims.sid, client=client
                )
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
        async with self._db() as db:
            session = await session_store.live_by_id(db, claims.sid, utcnow())
        if session is None or session.user_id != claims.sub:
            return None
        return {
            "active": True,
            "token_type": "Bearer",
            "scope": claims.scope,
            "client_id": FIRST_PARTY_CLIENT,
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
        async with self._db() as db:
            record = await session_store.refresh_token(db, token_id(claims.jti))
            session = await session_store.live_by_id(db, claims.sid, utcnow())
        if record is None or record.used_at is not None or session is None:
            return None
        if session.user_id != claims.sub or record.session_id != session.id:
            return None
        return {
            "active": True,
            "token_type": "refresh_token",
            "scope": session.scope,
            "client_id": FIRST_PARTY_CLIENT,
            "sub": str(claims.sub),
            "sid": str(claims.sid),
            "aud": self._settings.refresh_audience,
            "iss": self._settings.issuer,
            "exp": claims.exp,
            "iat": claims.iat,
        }
