"""Sessions seen from their owner: check a bearer token against them, list, end."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from tollgate.clock import Clock, SystemClock
from tollgate.errors import InsufficientScope, InvalidGrant, InvalidToken, NotFound
from tollgate.events import NO_CLIENT, ClientInfo, EventBus, SessionsEnded
from tollgate.services.auth_cache import AuthCache
from tollgate.store.interfaces import SessionStore
from tollgate.store.records import SessionRecord
from tollgate.tokens.checking import TokenChecker
from tollgate.tokens.claims import AccessClaims

# The audit row is written with the revocation, before the count is known.
EVERY_SESSION = "every session of the user ended"


async def end_session(
    store: SessionStore,
    events: EventBus,
    event: SessionsEnded,
    *,
    owner: uuid.UUID | None = None,
    reason: str | None = None,
) -> bool:
    """End the event's session if it is live (and `owner`'s, when given), its audit row in
    the same write, and publish the event then. False if there was no such session."""
    assert event.session_id is not None
    ended = await store.revoke(event.session_id, event.ending(reason), owner=owner)
    if ended:
        await events.publish(event)
    return ended


@dataclass(eq=False)
class Sessions:
    # What it uses, given by the composition root (services/container.py).
    _store: SessionStore
    _checker: TokenChecker
    _cache: AuthCache
    _events: EventBus
    _clock: Clock = field(default_factory=SystemClock)

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
            session = await self._store.live(claims.sid, self._clock.now())
            if session is None or session.user_id != claims.sub:
                raise InvalidToken("The session of this token has ended.")
            self._cache.put(access_token, claims)
        missing = set(required_scope.split()) - claims.scopes
        if missing:
            raise InsufficientScope(frozenset(missing))
        return claims

    async def live_for_user(self, user_id: uuid.UUID) -> list[SessionRecord]:
        return await self._store.live_for_user(user_id, self._clock.now())

    async def recently_ended(self, user_id: uuid.UUID, days: int = 30) -> list[SessionRecord]:
        since = self._clock.now() - timedelta(days=days)
        return await self._store.ended_for_user(user_id, since)

    async def all_live(self) -> list[SessionRecord]:
        return await self._store.all_live(self._clock.now())

    async def end(
        self,
        user_id: uuid.UUID | None,
        session_id: uuid.UUID,
        reason: str,
        client: ClientInfo = NO_CLIENT,
    ) -> None:
        """End one live session; of this user only, unless user_id is None (admin)."""
        owner = user_id
        if owner is None:
            # An operator names the session only; the event names its user too (the
            # Shared Signals feed tells receivers whose session ended).
            found = await self._store.live(session_id, self._clock.now())
            owner = found.user_id if found is not None else None
        event = SessionsEnded(
            reason, self._clock.now(), user_id=owner, session_id=session_id, client=client
        )
        if not await end_session(self._store, self._events, event, owner=user_id):
            raise NotFound("No such session.")

    async def end_all(self, user_id: uuid.UUID, reason: str, client: ClientInfo = NO_CLIENT) -> int:
        event = SessionsEnded(
            reason, self._clock.now(), user_id=user_id, client=client, detail=EVERY_SESSION
        )
        count = await self._store.revoke_all(user_id, event.ending())
        await self._events.publish(event)
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
        event = SessionsEnded(
            "logout", self._clock.now(), user_id=claims.sub, session_id=claims.sid, client=client
        )
        await end_session(self._store, self._events, event, owner=claims.sub)
        return claims.sub
