"""The audit trail: one row and one structured log line per security event.

The row is written by the store in the same transaction as the change it records (a
service passes `event.audit_record()` along with the write); events with no write of
their own (a failed login, a key retired) are stored by `AuditTrail.record`. The log line
and the metrics counter come from `AuditLog`, a subscriber of every published event.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime

from tollgate.events import Counted, Event, EventBus
from tollgate.request_context import current_request_id
from tollgate.store.interfaces import AuditStore
from tollgate.store.records import ALL_AUDIT, AuditQuery, AuditRecord

log = logging.getLogger("tollgate.audit")


class AuditTrail:
    def __init__(self, store: AuditStore, events: EventBus) -> None:
        self._store = store
        self._events = events

    async def record(self, event: Event) -> None:
        """Store an event that has no write of its own to ride along with; publish it."""
        await self._store.add([event.audit_record()])
        await self._events.publish(event)

    async def events(self, query: AuditQuery = ALL_AUDIT) -> list[AuditRecord]:
        return await self._store.events(query)

    async def purge(self, before: datetime) -> int:
        return await self._store.purge(before)


class AuditLog:
    """Subscriber: a JSON line on the `tollgate.audit` logger and a metrics count for every
    recorded event; a count alone for the frequent ones."""

    def __init__(self, count: Callable[[str], None]) -> None:
        self._count = count

    def subscribe(self, events: EventBus) -> None:
        events.subscribe(Event, self.write)
        events.subscribe(Counted, self.counted)

    def counted(self, event: Counted) -> None:
        self._count(event.name)

    def write(self, event: Event) -> None:
        self._count(event.name)
        row = event.audit_record()
        log.info(
            json.dumps(
                {
                    "event": row.event,
                    "at": row.at.isoformat(),
                    "user_id": str(row.user_id) if row.user_id else None,
                    "username": row.username,
                    "session_id": str(row.session_id) if row.session_id else None,
                    "ip": row.ip,
                    "user_agent": row.user_agent,
                    "detail": row.detail,
                    "request_id": current_request_id(),
                },
                ensure_ascii=False,
            )
        )
