"""Sessions seen from their owner: check a bearer token against them, list, end."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tollgate.errors import InsufficientScope, InvalidGrant, InvalidToken, NotFound
from tollgate.services.audit import Audit
from tollgate.services.auth_cache import AuthCache
from tollgate.services.grants import NO_CLIENT, ClientInfo
from tollgate.store import sessions as session_store
from tollgate.store.models import Session, utcnow
from tollgate.tokens.checking import TokenChecker
from tollgate.tokens.claims import AccessClaims


class Sessions:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        checker: TokenChecker,
        audit: Audit,
        cache: AuthCache,
    ) -> None:
        self._db = sessionmaker
        self._checker = checker
        self._audit = audit
        self._cache = cache

    async def authorize(self, access_token: str, required_scope: str = "") -> AccessClaims:
        """A valid access token whose session is still live, holding every required scope.

        Other services verifying tokens on their own accept a token until `exp`; Tollgate's
        own routes also honour revocation.
        """
        cached = self._cache.get(access_token)
        if cached is not None:
            claims = cached.claims
        else:
            claims = await self._checker.access(access_token)
            async with self._db() as db:
                session = await session_store.live_by_id(db, claims.sid, utcnow())
            if session is None or session.user_id != claims.sub:
                raise InvalidToken("The session of this token has ended.")
            self._cache.put(access_token, claims)
        missing = set(required_scope.split()) - claims.scopes
        if missing:
            raise InsufficientScope(" ".join(sorted(missing)))
        return claims

    async def live_for_user(self, user_id: uuid.UUID) -> Sequence[Session]:
        async with self._db() as db:
            return await session_store.live_for_user(db, user_id, utcnow())

    async def recently_ended(self, user_id: uuid.UUID, days: int = 30) -> Sequence[Session]:
        async with self._db() as db:
            since = utcnow() - timedelta(days=days)
            return await session_store.ended_for_user(db, user_id, since)

    async def all_live(self) -> Sequence[Session]:
        async with self._db() as db:
            return await session_store.all_live(db, utcnow())

    async def end(
        self,
        user_id: uuid.UUID | None,
        session_id: uuid.UUID,
        reason: str,
        client: ClientInfo = NO_CLIENT,
    ) -> None:
        """End one live session; of this user only, unless user_id is None (admin)."""
        async with self._db.begin() as db:
            if not await session_store.revoke(db, session_id, reason, utcnow(), owner=user_id):
                raise NotFound("No such session.")
        self._cache.revoked()
        await self._audit.record(reason, user_id=user_id, session_id=session_id, client=client)

    async def end_all(self, user_id: uuid.UUID, reason: str, client: ClientInfo = NO_CLIENT) -> int:
        async with self._db.begin() as db:
            count = await session_store.revoke_all_for_user(db, user_id, reason, utcnow())
        self._cache.revoked()
        await self._audit.record(
            reason, user_id=user_id, client=client, detail=f"{count} session(s) ended"
        )
        return count

    async def end_by_refresh_token(
        self,
        user_id: uuid.UUID | None,
        refresh_token: str,
        client: ClientInfo = NO_CLIENT,
        *,
        everywhere: bool = False,
    ) -> uuid.UUID:
        """End the session a refresh token belongs to (or all its user's sessions).

        `user_id`: the caller known by other means (a bearer token); the refresh token must
        then be theirs. Returns the token's user.
        """
        try:
            claims = await self._checker.refresh(refresh_token)
        except InvalidToken as exc:
            raise InvalidGrant(f"The refresh token is not usable: {exc.description}") from exc
        if user_id is not None and claims.sub != user_id:
            raise InvalidGrant("The refresh token belongs to someone else.")
        if everywhere:
            await self.end_all(claims.sub, "logout_all", client)
            return claims.sub
        async with self._db.begin() as db:
            ended = await session_store.revoke(db, claims.sid, "logout", utcnow(), owner=claims.sub)
        self._cache.revoked()
        if ended:
            await self._audit.record(
                "logout", user_id=claims.sub, session_id=claims.sid, client=client
            )
        return claims.sub
