"""The audit trail: one row and one structured log line per security event."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tollgate.request_context import current_request_id
from tollgate.services.grants import NO_CLIENT, ClientInfo
from tollgate.store.models import AuditEvent, utcnow

log = logging.getLogger("tollgate.audit")


class Audit:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        observer: Callable[[str], None] | None = None,
    ) -> None:
        self._db = sessionmaker
        self._observer = observer

    def count(self, event: str) -> None:
        """An event only counted (metrics), not stored: too frequent for the trail."""
        if self._observer is not None:
            self._observer(event)

    async def record(
        self,
        event: str,
        *,
        user_id: uuid.UUID | None = None,
        username: str | None = None,
        session_id: uuid.UUID | None = None,
        client: ClientInfo = NO_CLIENT,
        detail: str | None = None,
    ) -> None:
        row = AuditEvent(
            at=utcnow(),
            event=event,
            user_id=user_id,
            # As tried, which may hold characters no database column takes.
            username=username[:256].replace("\x00", "\ufffd") if username else None,
            session_id=session_id,
            ip=client.ip,
            user_agent=(client.user_agent or "")[:512] or None,
            detail=detail[:512] if detail else None,
        )
        async with self._db.begin() as db:
            db.add(row)
        self.count(event)
        log.info(
            json.dumps(
                {
                    "event": event,
                    "at": row.at.isoformat(),
                    "user_id": str(user_id) if user_id else None,
                    "username": row.username,
                    "session_id": str(session_id) if session_id else None,
                    "ip": row.ip,
                    "user_agent": row.user_agent,
                    "detail": row.detail,
                    "request_id": current_request_id(),
                },
                ensure_ascii=False,
            )
        )

    async def refresh_reuse(
        self, user_id: uuid.UUID, session_id: uuid.UUID, client: ClientInfo
    ) -> None:
        await self.record(
            "refresh_reuse_detected",
            user_id=user_id,
            session_id=session_id,
            client=client,
            detail="a used refresh token was presented again; the session was revoked",
        )

    async def purge(self, before: datetime) -> int:
        async with self._db.begin() as db:
            result = await db.execute(
                delete(AuditEvent)
                .where(AuditEvent.at < before)
                .execution_options(synchronize_session=False)
            )
        return int(getattr(result, "rowcount", 0) or 0)

    async def events(
        self,
        *,
        user_id: uuid.UUID | None = None,
        since: datetime | None = None,
        limit: int = 1000,
    ) -> Sequence[AuditEvent]:
        query = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        if user_id is not None:
            query = query.where(AuditEvent.user_id == user_id)
        if since is not None:
            query = query.where(AuditEvent.at >= since)
        async with self._db() as db:
            return (await db.scalars(query.limit(limit))).all()
