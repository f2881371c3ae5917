"""Scope descriptions: one statement per operation."""

from __future__ import annotations

from collections.abc import Sequence

from asyncpg import Record

from tollgate.store.postgres import rows
from tollgate.store.postgres.audit import audit_arrays, insert_audit
from tollgate.store.postgres.pool import Connections
from tollgate.store.records import AuditRecord, ScopeDescription

_DESCRIBE = f"""
WITH audit AS ({insert_audit(4)})
INSERT INTO scopes (name, description, updated_at) VALUES ($1, $2, $3)
ON CONFLICT (name) DO UPDATE SET
  description = excluded.description, updated_at = excluded.updated_at
"""
# COLLATE "C": code point order whatever the database's collation, as SQLite's BINARY.
_ALL = 'SELECT name, description, updated_at FROM scopes ORDER BY name COLLATE "C"'


def _scope(row: Record) -> ScopeDescription:
    return ScopeDescription(
        name=row["name"], description=row["description"], updated_at=rows.utc(row["updated_at"])
    )


class PostgresScopeStore:
    def __init__(self, connections: Connections) -> None:
        self._db = connections

    async def describe(self, scope: ScopeDescription, audit: Sequence[AuditRecord] = ()) -> None:
        await self._db.execute(
            _DESCRIBE, scope.name, scope.description, scope.updated_at, *audit_arrays(audit)
        )

    async def list(self) -> list[ScopeDescription]:
        return await self._db.all(_scope, _ALL)
