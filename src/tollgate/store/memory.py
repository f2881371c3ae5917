"""What one process may keep in its own memory: the DPoP proofs seen, for a server that is
the only one on its database (SQLite: one `tollgate serve` process; several workers need
TOLLGATE_REDIS_URL, which takes over)."""

from __future__ import annotations

from datetime import datetime

# Far more proofs than a minute of this process's requests; past it, expired ones go.
MAX_ENTRIES = 1_000_000


class MemoryProofReplayStore:
    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._seen: dict[str, datetime] = {}
        self._max_entries = max_entries

    async def first_use(self, proof_id: str, expires_at: datetime, now: datetime) -> bool:
        # No await inside: one event loop, so the check and the write are one step.
        if len(self._seen) >= self._max_entries:
            self._seen = {k: v for k, v in self._seen.items() if v > now}
        seen = self._seen.get(proof_id)
        if seen is not None and seen > now:
            return False
        self._seen[proof_id] = expires_at
        return True

    async def purge(self, before: datetime) -> int:
        kept = {k: v for k, v in self._seen.items() if v >= before}
        gone = len(self._seen) - len(kept)
        self._seen = kept
        return gone
