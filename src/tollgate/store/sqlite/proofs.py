"""DPoP proofs seen: one write per proof, on the database's one writer."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from tollgate.store.sqlite.codecs import time_text
from tollgate.store.sqlite.connection import ConnectionThread

# An expired entry is taken over in place: the key is free again once the proof it
# named can no longer be accepted (its `iat` is too old by then).
CLAIM = (
    "INSERT INTO dpop_proofs (id, expires_at) VALUES (?, ?) "
    "ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at "
    "WHERE dpop_proofs.expires_at <= ?"
)
PURGE = "DELETE FROM dpop_proofs WHERE expires_at < ?"


def _claim(connection: sqlite3.Connection, proof_id: str, expires: str, now: str) -> bool:
    return connection.execute(CLAIM, (proof_id, expires, now)).rowcount == 1


def _purge(connection: sqlite3.Connection, before: str) -> int:
    return connection.execute(PURGE, (before,)).rowcount


class SqliteProofReplayStore:
    def __init__(self, thread: ConnectionThread) -> None:
        self._thread = thread

    async def first_use(self, proof_id: str, expires_at: datetime, now: datetime) -> bool:
        return await self._thread.write(_claim, proof_id, time_text(expires_at), time_text(now))

    async def purge(self, before: datetime) -> int:
        return await self._thread.write(_purge, time_text(before))
