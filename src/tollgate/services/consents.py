"""The apps a user has allowed (consents), as the user sees them: list and revoke.

Granting happens on the consent page (services/authorization.py). Revoking forgets the
consent and ends the user's sessions of that app in one transaction (the access tokens
of those sessions stop working on Tollgate's routes at once, the refresh tokens too).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from tollgate.clock import Clock, SystemClock
from tollgate.errors import NotFound
from tollgate.events import ClientInfo, EventBus, SessionsEnded
from tollgate.store.interfaces import ClientStore, ConsentStore

REVOKED = "consent.revoked"


@dataclass(frozen=True)
class AllowedApp:
    client_id: str
    client_name: str
    scope: str
    granted_at: datetime


@dataclass(eq=False)
class Consents:
    # What it uses, given by the composition root (services/container.py).
    _consents: ConsentStore
    _clients: ClientStore
    _events: EventBus
    _clock: Clock = field(default_factory=SystemClock)

    async def for_user(self, user_id: uuid.UUID) -> list[AllowedApp]:
        """Most recently allowed first."""
        apps = []
        for consent in await self._consents.for_user(user_id):
            client = await self._clients.by_id(consent.client_id)
            if client is None:  # deleted a moment ago (its consents go with it)
                continue
            apps.append(
                AllowedApp(client.client_id, client.name, consent.scope, consent.granted_at)
            )
        return apps

    async def revoke(self, user_id: uuid.UUID, client_id: str, client: ClientInfo) -> int:
        """Forget the consent and end the user's sessions of that app; how many ended.
        NotFound when the user had not allowed that app."""
        event = SessionsEnded(
            REVOKED,
            self._clock.now(),
            user_id=user_id,
            client=client,
            detail=f"client {client_id[:200]}",
        )
        ended = await self._consents.revoke(user_id, client_id, event.ending())
        if ended is None:
            raise NotFound("You have not allowed that app.")
        await self._events.publish(event)
        return ended
