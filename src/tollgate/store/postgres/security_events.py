"""Shared Signals streams and their unacknowledged events: one statement per operation
(a poll's acknowledgement, read and `polled_at` in one CTE; a push claim with SKIP LOCKED,
so concurrent workers and replicas never take the same event)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from asyncpg import Record

from tollgate.store.postgres.pool import Connections
from tollgate.store.postgres.rows import utc
from tollgate.store.records import EventBatch, SecurityEventRecord, StreamRecord

_STREAM_COLUMNS = (
    "stream_id, client_id, delivery_method, endpoint_url, events_delivered, status, "
    "created_at, polled_at"
)
_EVENT_COLUMNS = "jti, stream_id, created_at, claims, attempts, next_attempt_at"
_INSERT_STREAM = (
    f"INSERT INTO ssf_streams ({_STREAM_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
)
_SELECT_STREAMS = f"SELECT {_STREAM_COLUMNS} FROM ssf_streams"
_INSERT_EVENTS = f"""
INSERT INTO ssf_events ({_EVENT_COLUMNS})
SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::int[],
                     $6::timestamptz[])
ON CONFLICT (jti) DO NOTHING
"""
# RFC 8936 §2.4: acknowledgements first, then the oldest events still stored (one more
# than asked, to tell whether more are available). The CTEs see the table as it was when
# the statement began, so the acknowledged rows are filtered out by hand.
_POLL = f"""
WITH acked AS (
    DELETE FROM ssf_events WHERE stream_id = $1 AND jti = ANY($2::text[]) RETURNING jti
), polled AS (
    UPDATE ssf_streams SET polled_at = $4 WHERE stream_id = $1
)
SELECT {_EVENT_COLUMNS} FROM ssf_events
WHERE stream_id = $1 AND NOT (jti = ANY($2::text[]))
ORDER BY created_at, jti LIMIT $3
"""
_CLAIM = f"""
WITH due AS (
    SELECT e.jti FROM ssf_events e JOIN ssf_streams s ON s.stream_id = e.stream_id
    WHERE s.delivery_method = 'urn:ietf:rfc:8935' AND s.status = 'enabled'
      AND e.next_attempt_at <= $1
    ORDER BY e.created_at, e.jti LIMIT $3
    FOR UPDATE OF e SKIP LOCKED
)
UPDATE ssf_events SET next_attempt_at = $2 FROM due WHERE ssf_events.jti = due.jti
RETURNING {", ".join("ssf_events." + c for c in _EVENT_COLUMNS.split(", "))}
"""


def _stream(row: Record) -> StreamRecord:
    return StreamRecord(
        stream_id=row["stream_id"],
        client_id=row["client_id"],
        delivery_method=row["delivery_method"],
        endpoint_url=row["endpoint_url"],
        events_delivered=tuple(json.loads(row["events_delivered"])),
        status=row["status"],
        created_at=utc(row["created_at"]),
        polled_at=None if row["polled_at"] is None else utc(row["polled_at"]),
    )


def _event(row: Record) -> SecurityEventRecord:
    return SecurityEventRecord(
        jti=row["jti"],
        stream_id=row["stream_id"],
        created_at=utc(row["created_at"]),
        claims=row["claims"],
        attempts=row["attempts"],
        next_attempt_at=utc(row["next_attempt_at"]),
    )


class PostgresSecurityEventStore:
    def __init__(self, connections: Connections) -> None:
        self._db = connections

    async def add_stream(self, stream: StreamRecord) -> None:
        await self._db.execute(
            _INSERT_STREAM,
            stream.stream_id,
            stream.client_id,
            stream.delivery_method,
            stream.endpoint_url,
            json.dumps(list(stream.events_delivered)),
            stream.status,
            stream.created_at,
            stream.polled_at,
        )

    async def stream(self, stream_id: str) -> StreamRecord | None:
        return await self._db.one(_stream, f"{_SELECT_STREAMS} WHERE stream_id = $1", stream_id)

    async def streams(self, client_id: str | None = None) -> list[StreamRecord]:
        if client_id is None:
            return await self._db.all(_stream, f"{_SELECT_STREAMS} ORDER BY created_at")
        return await self._db.all(
            _stream, f"{_SELECT_STREAMS} WHERE client_id = $1 ORDER BY created_at", client_id
        )

    async def set_status(self, stream_id: str, status: str) -> bool:
        statement = "UPDATE ssf_streams SET status = $2 WHERE stream_id = $1"
        return await self._db.execute(statement, stream_id, status) == 1

    async def delete_stream(self, stream_id: str) -> bool:
        statement = "DELETE FROM ssf_streams WHERE stream_id = $1"
        return await self._db.execute(statement, stream_id) == 1

    async def add_events(self, events: Sequence[SecurityEventRecord]) -> None:
        if not events:
            return
        await self._db.execute(
            _INSERT_EVENTS,
            [e.jti for e in events],
            [e.stream_id for e in events],
            [e.created_at for e in events],
            [e.claims for e in events],
            [e.attempts for e in events],
            [e.next_attempt_at or e.created_at for e in events],
        )

    async def poll(
        self, stream_id: str, acknowledged: Sequence[str], max_events: int, now: datetime
    ) -> EventBatch:
        rows = await self._db.all(_event, _POLL, stream_id, list(acknowledged), max_events + 1, now)
        return EventBatch(rows[:max_events], len(rows) > max_events)

    async def waiting(self, stream_id: str) -> bool:
        statement = "SELECT EXISTS (SELECT FROM ssf_events WHERE stream_id = $1)"
        found: bool = await self._db.fetchval(statement, stream_id)
        return found

    async def claim_pushes(
        self, now: datetime, lease_until: datetime, limit: int
    ) -> list[SecurityEventRecord]:
        rows = await self._db.all(_event, _CLAIM, now, lease_until, limit)
        return sorted(rows, key=lambda e: (e.created_at, e.jti))

    async def pushed(self, jti: str) -> None:
        await self._db.execute("DELETE FROM ssf_events WHERE jti = $1", jti)

    async def push_failed(self, jti: str, next_attempt_at: datetime) -> None:
        await self._db.execute(
            "UPDATE ssf_events SET attempts = attempts + 1, next_attempt_at = $2 WHERE jti = $1",
            jti,
            next_attempt_at,
        )

    async def backlog(self) -> int:
        count: int = await self._db.fetchval("SELECT count(*) FROM ssf_events")
        return count

    async def purge(self, before: datetime) -> int:
        return await self._db.execute("DELETE FROM ssf_events WHERE created_at < $1", before)
