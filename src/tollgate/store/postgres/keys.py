"""Signing keys."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from tollgate.store.postgres import rows
from tollgate.store.postgres.audit import audit_arrays, insert_audit
from tollgate.store.postgres.pool import Connections
from tollgate.store.records import AuditRecord, KeyRecord

_SELECT = f"SELECT {rows.columns(rows.KEY)} FROM signing_keys"
_ORDER = "ORDER BY activates_at DESC, kid"

_ADD = f"""
WITH audit AS ({insert_audit(8)})
INSERT INTO signing_keys ({rows.columns(rows.KEY)}) VALUES ($1, $2, $3, $4, $5, $6, $7)
"""

_RETIRE = f"""
WITH retired AS (
  UPDATE signing_keys SET retired_at = $2 WHERE kid = $1 AND retired_at IS NULL RETURNING kid
), audit AS ({insert_audit(3, "EXISTS (SELECT FROM retired)")})
SELECT count(*) FROM retired
"""


class PostgresKeyStore:
    def __init__(self, connections: Connections) -> None:
        self._db = connections

    async def add(self, key: KeyRecord, audit: Sequence[AuditRecord] = ()) -> None:
        await self._db.execute(_ADD, *rows.params(key, rows.KEY), *audit_arrays(audit))

    async def usable(self) -> list[KeyRecord]:
        query = f"{_SELECT} WHERE retired_at IS NULL {_ORDER}"
        return await self._db.all(rows.key, query)

    async def all(self) -> list[KeyRecord]:
        return await self._db.all(rows.key, f"{_SELECT} {_ORDER}")

    async def retire(self, kid: str, now: datetime, audit: Sequence[AuditRecord] = ()) -> bool:
        retired: int = await self._db.fetchval(_RETIRE, kid, now, *audit_arrays(audit))
        return retired == 1
