"""Scope descriptions: a few rows the operator writes; one hop per operation."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from tollgate.store.records import AuditRecord, ScopeDescription
from tollgate.store.sqlite.audit import insert_audit
from tollgate.store.sqlite.codecs import Row, time_text, to_time
from tollgate.store.sqlite.connection import ConnectionThread

UPSERT = (
    "INSERT INTO scopes (name, description, updated_at) VALUES (?, ?, ?) "
    "ON CONFLICT (name) DO UPDATE SET "
    "description = excluded.description, updated_at = excluded.updated_at"
)
# BINARY collation: code point order, as PostgreSQL's COLLATE "C".
ALL = "SELECT name, description, updated_at FROM scopes ORDER BY name"


def _describe(connection: sqlite3.Connection, params: Row, audit: Sequence[AuditRecord]) -> None:
    connection.execute(UPSERT, params)
    insert_audit(connection, audit)


def _all(connection: sqlite3.Connection) -> list[ScopeDescription]:
    return [
        ScopeDescription(name=name, description=description, updated_at=to_time(updated))
        for name, description, updated in connection.execute(ALL)
    ]


class SqliteScopeStore:
    def __init__(self, thread: ConnectionThread) -> None:
        self._thread = thread

    async def describe(self, scope: ScopeDescription, audit: Sequence[AuditRecord] = ()) -> None:
        params = (scope.name, scope.description, time_text(scope.updated_at))
        await self._thread.write(_describe, params, audit)

    async def list(self) -> list[ScopeDescription]:
        return await self._thread.call(_all)
