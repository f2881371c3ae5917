"""Audit rows: written inside other stores' statements (as a CTE) or on their own."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tollgate.store.postgres import rows
from tollgate.store.postgres.pool import Connections
from tollgate.store.records import ALL_AUDIT, AuditQuery, AuditRecord

_COLUMNS = ("at", "event", "user_id", "username", "session_id", "ip", "user_agent", "detail")
_TYPES = ("timestamptz", "text", "uuid", "text", "uuid", "text", "text", "text")


def insert_audit(first: int, only_if: str = "") -> str:
    """An INSERT of the audit rows given as one array per column, parameters $first to
    $first+7 (see `audit_arrays`): any number of rows in the same statement, so in the
    same transaction as the write they describe. `only_if`: a condition, e.g. that the
    write matched a row."""
    arrays = ", ".join(f"${first + i}::{kind}[]" for i, kind in enumerate(_TYPES))
    where = f" WHERE {only_if}" if only_if else ""
    return f"INSERT INTO audit_events ({', '.join(_COLUMNS)}) SELECT * FROM unnest({arrays}){where}"


def audit_arrays(records: Sequence[AuditRecord]) -> tuple[list[Any], ...]:
    return (
        [r.at for r in records],
        [r.event for r in records],
        [r.user_id for r in records],
        [r.username for r in records],
        [r.session_id for r in records],
        [r.ip for r in records],
        [r.user_agent for r in records],
        [r.detail for r in records],
    )


_ADD = insert_audit(1)
_SELECT = f"SELECT {rows.columns(rows.AUDIT)} FROM audit_events"
_ORDER = "ORDER BY at DESC, id DESC LIMIT $1"
# One text per combination of filters rather than `($2 IS NULL OR user_id = $2)`, which
# a generic plan could not serve from the index on user_id.
_EVENTS = {
    (False, False): f"{_SELECT} {_ORDER}",
    (True, False): f"{_SELECT} WHERE user_id = $2 {_ORDER}",
    (False, True): f"{_SELECT} WHERE at >= $2 {_ORDER}",
    (True, True): f"{_SELECT} WHERE user_id = $2 AND at >= $3 {_ORDER}",
}


class PostgresAuditStore:
    def __init__(self, connections: Connections) -> None:
        self._db = connections

    async def add(self, records: Sequence[AuditRecord]) -> None:
        if records:
            await self._db.execute(_ADD, *audit_arrays(records))

    async def events(self, query: AuditQuery = ALL_AUDIT) -> list[AuditRecord]:
        filters = [value for value in (query.user_id, query.since) if value is not None]
        sql = _EVENTS[(query.user_id is not None, query.since is not None)]
        return await self._db.all(rows.audit, sql, query.limit, *filters)

    async def purge(self, before: datetime) -> int:
        return await self._db.execute("DELETE FROM audit_events WHERE at < $1", before)
