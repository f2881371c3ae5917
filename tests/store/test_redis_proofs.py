"""The DPoP replay cache in a real Redis (what replicas share when TOLLGATE_REDIS_URL is
set): the same contract as the database's ProofReplayStore, but purging is Redis's job."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.e2e.redis_server import running_redis
from tollgate.store.records import StoreUnavailable
from tollgate.store.redis.proofs import RedisProofReplayStore


async def test_first_use_once_concurrently_and_forgotten_after_expiry(tmp_path: Path) -> None:
    with running_redis(tmp_path) as url:
        store = RedisProofReplayStore.from_url(url)
        try:
            # Expiry is absolute (PXAT) on Redis's own clock: stamp the entries from now.
            now = datetime.now(UTC)
            soon, later = now + timedelta(seconds=1), now + timedelta(seconds=60)
            results = await asyncio.gather(*(store.first_use("p", soon, now) for _ in range(8)))
            assert sorted(results) == [False] * 7 + [True]
            assert await store.first_use("q", later, now) is True
            for _ in range(50):  # until Redis drops it, a second from now
                if await store.first_use("p", later, now):
                    break
                await asyncio.sleep(0.1)
            else:
                pytest.fail("Redis kept the expired entry")
            assert datetime.now(UTC) >= soon
            assert await store.first_use("q", later, now) is False
        finally:
            await store.close()


async def test_redis_gone_is_store_unavailable(tmp_path: Path) -> None:
    with running_redis(tmp_path) as url:
        pass
    store = RedisProofReplayStore.from_url(url)
    now = datetime.now(UTC)
    try:
        with pytest.raises(StoreUnavailable):
            await store.first_use("p", now + timedelta(seconds=60), now)
    finally:
        await store.close()
