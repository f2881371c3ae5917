"""What happened, published once: "a session ended", "logged in", "password changed", ...

A service stores what it changed together with the event's audit row (one transaction),
then publishes the event. Subscribers do the rest: the audit log line and metrics, the
token cache that must forget a revoked session, and (later) the Shared Signals feed.
None of them is wired into a service by hand.
"""

from __future__ import annotations

import inspect
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from tollgate.store.records import AuditRecord, SessionEnd

log = logging.getLogger("tollgate.events")

# Column widths of the audit table; what a client sends may be longer.
MAX_USER_AGENT = 512
MAX_DETAIL = 512
MAX_USERNAME = 256


@dataclass(frozen=True)
class ClientInfo:
    """Who made it happen: the client's address and user agent, as far as known."""

    user_agent: str | None = None
    ip: str | None = None


NO_CLIENT = ClientInfo()


@dataclass(frozen=True)
class Event:
    """Something the audit trail records. `name` is its event name there."""

    name: str
    at: datetime
    user_id: uuid.UUID | None = None
    username: str | None = None
    session_id: uuid.UUID | None = None
    client: ClientInfo = field(default=NO_CLIENT)
    detail: str | None = None

    def audit_record(self) -> AuditRecord:
        return AuditRecord(
            at=self.at,
            event=self.name,
            user_id=self.user_id,
            # As tried, which may hold characters no database column takes.
            username=self.username[:MAX_USERNAME].replace("\x00", "\ufffd")
            if self.username
            else None,
            session_id=self.session_id,
            ip=self.client.ip,
            user_agent=(self.client.user_agent or "")[:MAX_USER_AGENT] or None,
            detail=self.detail[:MAX_DETAIL] if self.detail else None,
        )


@dataclass(frozen=True)
class SessionsEnded(Event):
    """One session ended (`session_id`), or every session of `user_id` (`session_id` None)."""

    def ending(self, reason: str | None = None) -> SessionEnd:
        """What the store ends the sessions with: `reason` (else the event's name) as their
        revoke reason, the event's time, and its audit row for the same transaction."""
        return SessionEnd(reason or self.name, self.at, audit=[self.audit_record()])


@dataclass(frozen=True)
class AccountChanged(Event):
    """Password set, account disabled or deleted: earlier checks of its tokens are stale."""


@dataclass(frozen=True)
class Counted:
    """Too frequent for the audit trail (a refresh, a throttled try): counted only."""

    name: str


E = TypeVar("E", Event, Counted, SessionsEnded, AccountChanged)
Handler = Callable[[E], Awaitable[None] | None]


class EventBus:
    def __init__(self) -> None:
        self._handlers: list[tuple[type, Callable[[object], Awaitable[None] | None]]] = []

    def subscribe(self, kind: type[E], handler: Handler[E]) -> None:
        """Call `handler` with every published event that is a `kind` (subclasses too)."""
        self._handlers.append((kind, handler))  # type: ignore[arg-type]

    async def publish(self, event: Event | Counted) -> None:
        for kind, handler in self._handlers:
            if isinstance(event, kind):
                try:
                    result = handler(event)
                    if inspect.isawaitable(result):
                        await result
                except Exception:
                    # What happened has happened: a failing subscriber must not undo it
                    # for the caller, nor stop the other subscribers.
                    log.exception("event subscriber failed on %s", type(event).__name__)
