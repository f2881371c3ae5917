"""Signing keys: one hop per operation, audit rows in the same transaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime

from tollgate.store.records import AuditRecord, KeyRecord
from tollgate.store.sqlite.audit import insert_audit
from tollgate.store.sqlite.codecs import KEY_COLUMNS, Row, key_from_row, key_params, time_text
from tollgate.store.sqlite.connection import ConnectionThread, rollback

INSERT_KEY = f"INSERT INTO signing_keys ({KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
# kid breaks ties, so every process agrees on the order (and on which key signs).
USABLE_KEYS = (
    f"SELECT {KEY_COLUMNS} FROM signing_keys WHERE retired_at IS NULL "
    "ORDER BY activates_at DESC, kid"
)
ALL_KEYS = f"SELECT {KEY_COLUMNS} FROM signing_keys ORDER BY activates_at DESC, kid"
RETIRE_KEY = "UPDATE signing_keys SET retired_at = ? WHERE kid = ? AND retired_at IS NULL"


def _add(connection: sqlite3.Connection, params: Row, audit: Sequence[AuditRecord]) -> None:
    connection.execute(INSERT_KEY, params)
    insert_audit(connection, audit)


def _keys(connection: sqlite3.Connection, sql: str) -> list[KeyRecord]:
    return [key_from_row(row) for row in connection.execute(sql).fetchall()]


def _retire(
    connection: sqlite3.Connection, kid: str, now: str, audit: Sequence[AuditRecord]
) -> bool:
    if connection.execute(RETIRE_KEY, (now, kid)).rowcount != 1:
        rollback(connection)  # no such unretired key: nothing to audit
        return False
    insert_audit(connection, audit)
    return True


class SqliteKeyStore:
    def __init__(self, thread: ConnectionThread) -> None:
        self._thread = thread

    async def add(self, key: KeyRecord, audit: Sequence[AuditRecord] = ()) -> None:
        await self._thread.write(_add, key_params(key), audit)

    async def usable(self) -> list[KeyRecord]:
        return await self._thread.call(_keys, USABLE_KEYS)

    async def all(self) -> list[KeyRecord]:
        return await self._thread.call(_keys, ALL_KEYS)

    async def retire(self, kid: str, now: datetime, audit: Sequence[AuditRecord] = ()) -> bool:
        return await self._thread.write(_retire, kid, time_text(now), audit)
