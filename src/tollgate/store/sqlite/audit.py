"""The audit trail; `insert_audit` also writes the rows other stores' writes carry."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime

from tollgate.store.records import ALL_AUDIT, AuditQuery, AuditRecord
from tollgate.store.sqlite.codecs import (
    AUDIT_COLUMNS,
    audit_from_row,
    audit_params,
    time_text,
    uuid_text,
)
from tollgate.store.sqlite.connection import ConnectionThread

INSERT_AUDIT = f"INSERT INTO audit_events ({AUDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
PURGE_AUDIT = "DELETE FROM audit_events WHERE at < ?"


def insert_audit(connection: sqlite3.Connection, records: Sequence[AuditRecord]) -> None:
    """On the connection's thread, inside the caller's transaction."""
    if len(records) == 1:  # the usual case; execute() skips executemany's iterator
        connection.execute(INSERT_AUDIT, audit_params(records[0]))
    elif records:
        connection.executemany(INSERT_AUDIT, [audit_params(r) for r in records])


def _events(
    connection: sqlite3.Connection, user_id: str | None, since: str | None, limit: int
) -> list[AuditRecord]:
    conditions, params = [], []
    if user_id is not None:
        conditions.append("user_id = ?")
        params.append(user_id)
    if since is not None:
        conditions.append("at >= ?")
        params.append(since)
    where = f"WHERE {' AND '.join(conditions)} " if conditions else ""
    sql = f"SELECT {AUDIT_COLUMNS}, id FROM audit_events {where}ORDER BY at DESC, id DESC LIMIT ?"
    rows = connection.execute(sql, (*params, limit)).fetchall()
    return [audit_from_row(row) for row in rows]


def _purge(connection: sqlite3.Connection, before: str) -> int:
    return connection.execute(PURGE_AUDIT, (before,)).rowcount


class SqliteAuditStore:
    def __init__(self, thread: ConnectionThread) -> None:
        self._thread = thread

    async def add(self, records: Sequence[AuditRecord]) -> None:
        if records:
            await self._thread.write(insert_audit, list(records))

    async def events(self, query: AuditQuery = ALL_AUDIT) -> list[AuditRecord]:
        return await self._thread.call(
            _events,
            None if query.user_id is None else uuid_text(query.user_id),
            None if query.since is None else time_text(query.since),
            query.limit,
        )

    async def purge(self, before: datetime) -> int:
        return await self._thread.write(_purge, time_text(before))
