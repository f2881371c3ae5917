"""DPoP proofs seen: one statement per proof."""

from __future__ import annotations

from datetime import datetime

from tollgate.store.postgres.pool import Connections

# An expired entry is taken over in place (see sqlite/proofs.py). RETURNING gives a row
# only when this statement inserted or took over the entry.
_CLAIM = """
INSERT INTO dpop_proofs (id, expires_at) VALUES ($1, $2)
ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at
WHERE dpop_proofs.expires_at <= $3
RETURNING 1
"""
_PURGE = "DELETE FROM dpop_proofs WHERE expires_at < $1"


class PostgresProofReplayStore:
    def __init__(self, connections: Connections) -> None:
        self._db = connections

    async def first_use(self, proof_id: str, expires_at: datetime, now: datetime) -> bool:
        return await self._db.fetchval(_CLAIM, proof_id, expires_at, now) is not None

    async def purge(self, before: datetime) -> int:
        return await self._db.execute(_PURGE, before)
