"""DPoP proofs seen, in Redis: one SET NX per proof, gone by itself when it expires."""

from __future__ import annotations

from datetime import datetime

from redis.asyncio import Redis
from redis.exceptions import RedisError

from tollgate.store.records import StoreUnavailable

PREFIX = "tollgate:dpop:"


class RedisProofReplayStore:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    @classmethod
    def from_url(cls, url: str) -> RedisProofReplayStore:
        return cls(Redis.from_url(url))

    async def first_use(self, proof_id: str, expires_at: datetime, now: datetime) -> bool:
        # PXAT: Redis forgets the entry when the proof could no longer pass anyway; NX:
        # of concurrent callers, one sets it.
        pxat = max(int(expires_at.timestamp() * 1000), int(now.timestamp() * 1000) + 1)
        try:
            return bool(await self._redis.set(PREFIX + proof_id, b"1", nx=True, pxat=pxat))
        except RedisError as exc:
            raise StoreUnavailable("Redis is unreachable.") from exc

    async def purge(self, before: datetime) -> int:
        return 0  # every entry carries its own expiry

    async def close(self) -> None:
        await self._redis.aclose()
