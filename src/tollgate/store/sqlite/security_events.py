"""Shared Signals streams and their unacknowledged events: one hop per operation, writes
on the database's one writer (so a claim is taken by one worker only)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime

from tollgate.store.records import EventBatch, SecurityEventRecord, StreamRecord
from tollgate.store.sqlite.codecs import (
    Row,
    text_tuple,
    time_text,
    time_text_or_none,
    to_time,
    to_time_or_none,
    to_tuple,
)
from tollgate.store.sqlite.connection import ConnectionThread

STREAM_COLUMNS = (
    "stream_id, client_id, delivery_method, endpoint_url, events_delivered, status, "
    "created_at, polled_at"
)
EVENT_COLUMNS = "jti, stream_id, created_at, claims, attempts, next_attempt_at"
INSERT_STREAM = f"INSERT INTO ssf_streams ({STREAM_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
STREAM_BY_ID = f"SELECT {STREAM_COLUMNS} FROM ssf_streams WHERE stream_id = ?"
STREAMS_OF = f"SELECT {STREAM_COLUMNS} FROM ssf_streams WHERE client_id = ? ORDER BY created_at"
ALL_STREAMS = f"SELECT {STREAM_COLUMNS} FROM ssf_streams ORDER BY created_at"
SET_STATUS = "UPDATE ssf_streams SET status = ? WHERE stream_id = ?"
DELETE_STREAM = "DELETE FROM ssf_streams WHERE stream_id = ?"
INSERT_EVENT = f"INSERT OR IGNORE INTO ssf_events ({EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"
ACKNOWLEDGE = "DELETE FROM ssf_events WHERE stream_id = ? AND jti = ?"
OLDEST = (
    f"SELECT {EVENT_COLUMNS} FROM ssf_events WHERE stream_id = ? ORDER BY created_at, jti LIMIT ?"
)
ANY_EVENT = "SELECT 1 FROM ssf_events WHERE stream_id = ? LIMIT 1"
POLLED = "UPDATE ssf_streams SET polled_at = ? WHERE stream_id = ?"
DUE = (
    f"SELECT {', '.join('e.' + c for c in EVENT_COLUMNS.split(', '))} FROM ssf_events e "
    "JOIN ssf_streams s ON s.stream_id = e.stream_id "
    "WHERE s.delivery_method = 'urn:ietf:rfc:8935' AND s.status = 'enabled' "
    "AND e.next_attempt_at <= ? ORDER BY e.created_at, e.jti LIMIT ?"
)
LEASE = "UPDATE ssf_events SET next_attempt_at = ? WHERE jti = ?"
PUSHED = "DELETE FROM ssf_events WHERE jti = ?"
FAILED = "UPDATE ssf_events SET attempts = attempts + 1, next_attempt_at = ? WHERE jti = ?"
BACKLOG = "SELECT count(*) FROM ssf_events"
PURGE = "DELETE FROM ssf_events WHERE created_at < ?"


def stream_from_row(row: Row) -> StreamRecord:
    return StreamRecord(
        stream_id=row[0],
        client_id=row[1],
        delivery_method=row[2],
        endpoint_url=row[3],
        events_delivered=to_tuple(row[4]),
        status=row[5],
        created_at=to_time(row[6]),
        polled_at=to_time_or_none(row[7]),
    )


def event_from_row(row: Row) -> SecurityEventRecord:
    return SecurityEventRecord(
        jti=row[0],
        stream_id=row[1],
        created_at=to_time(row[2]),
        claims=row[3],
        attempts=row[4],
        next_attempt_at=to_time(row[5]),
    )


def _add_stream(connection: sqlite3.Connection, s: StreamRecord) -> None:
    connection.execute(
        INSERT_STREAM,
        (
            s.stream_id,
            s.client_id,
            s.delivery_method,
            s.endpoint_url,
            text_tuple(s.events_delivered),
            s.status,
            time_text(s.created_at),
            time_text_or_none(s.polled_at),
        ),
    )


def _stream(connection: sqlite3.Connection, stream_id: str) -> StreamRecord | None:
    row = connection.execute(STREAM_BY_ID, (stream_id,)).fetchone()
    return None if row is None else stream_from_row(row)


def _streams(connection: sqlite3.Connection, client_id: str | None) -> list[StreamRecord]:
    if client_id is None:
        rows = connection.execute(ALL_STREAMS).fetchall()
    else:
        rows = connection.execute(STREAMS_OF, (client_id,)).fetchall()
    return [stream_from_row(row) for row in rows]


def _rowcount(connection: sqlite3.Connection, statement: str, params: Row) -> int:
    return connection.execute(statement, params).rowcount


def _add_events(connection: sqlite3.Connection, events: Sequence[SecurityEventRecord]) -> None:
    connection.executemany(
        INSERT_EVENT,
        [
            (
                e.jti,
                e.stream_id,
                time_text(e.created_at),
                e.claims,
                e.attempts,
                time_text(e.next_attempt_at or e.created_at),
            )
            for e in events
        ],
    )


def _poll(
    connection: sqlite3.Connection,
    stream_id: str,
    acknowledged: Sequence[str],
    max_events: int,
    now: str,
) -> EventBatch:
    connection.executemany(ACKNOWLEDGE, [(stream_id, jti) for jti in acknowledged])
    rows = connection.execute(OLDEST, (stream_id, max_events + 1)).fetchall()
    connection.execute(POLLED, (now, stream_id))
    events = [event_from_row(row) for row in rows[:max_events]]
    return EventBatch(events, len(rows) > max_events)


def _claim(
    connection: sqlite3.Connection, now: str, lease_until: str, limit: int
) -> list[SecurityEventRecord]:
    events = [event_from_row(row) for row in connection.execute(DUE, (now, limit)).fetchall()]
    connection.executemany(LEASE, [(lease_until, e.jti) for e in events])
    return events


def _waiting(connection: sqlite3.Connection, stream_id: str) -> bool:
    return connection.execute(ANY_EVENT, (stream_id,)).fetchone() is not None


def _any_due(connection: sqlite3.Connection, now: str) -> bool:
    return connection.execute(DUE, (now, 1)).fetchone() is not None


def _count(connection: sqlite3.Connection) -> int:
    count: int = connection.execute(BACKLOG).fetchone()[0]
    return count


class SqliteSecurityEventStore:
    def __init__(self, thread: ConnectionThread) -> None:
        self._thread = thread

    async def add_stream(self, stream: StreamRecord) -> None:
        await self._thread.write(_add_stream, stream)

    async def stream(self, stream_id: str) -> StreamRecord | None:
        return await self._thread.call(_stream, stream_id)

    async def streams(self, client_id: str | None = None) -> list[StreamRecord]:
        return await self._thread.call(_streams, client_id)

    async def set_status(self, stream_id: str, status: str) -> bool:
        return await self._thread.write(_rowcount, SET_STATUS, (status, stream_id)) > 0

    async def delete_stream(self, stream_id: str) -> bool:
        return await self._thread.write(_rowcount, DELETE_STREAM, (stream_id,)) > 0

    async def add_events(self, events: Sequence[SecurityEventRecord]) -> None:
        if events:
            await self._thread.write(_add_events, events)

    async def poll(
        self, stream_id: str, acknowledged: Sequence[str], max_events: int, now: datetime
    ) -> EventBatch:
        return await self._thread.write(
            _poll, stream_id, list(acknowledged), max_events, time_text(now)
        )

    async def waiting(self, stream_id: str) -> bool:
        return await self._thread.call(_waiting, stream_id)

    async def claim_pushes(
        self, now: datetime, lease_until: datetime, limit: int
    ) -> list[SecurityEventRecord]:
        # Every process asks every second: a read first, so an idle feed never takes the
        # database's one write lock from logins and refreshes.
        if not await self._thread.call(_any_due, time_text(now)):
            return []
        return await self._thread.write(_claim, time_text(now), time_text(lease_until), limit)

    async def pushed(self, jti: str) -> None:
        await self._thread.write(_rowcount, PUSHED, (jti,))

    async def push_failed(self, jti: str, next_attempt_at: datetime) -> None:
        await self._thread.write(_rowcount, FAILED, (time_text(next_attempt_at), jti))

    async def backlog(self) -> int:
        return await self._thread.call(_count)

    async def purge(self, before: datetime) -> int:
        return await self._thread.write(_rowcount, PURGE, (time_text(before),))
