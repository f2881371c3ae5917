"""ProofReplayStore: a DPoP proof is accepted once while it could be accepted at all."""

from __future__ import annotations

import asyncio

import pytest

from tests.store.builders import at
from tollgate.store.interfaces import ProofReplayStore
from tollgate.store.memory import MemoryProofReplayStore
from tollgate.store.stores import Stores


@pytest.fixture(params=["database", "memory"])
def replays(request: pytest.FixtureRequest, stores: Stores) -> ProofReplayStore:
    """The database's store (every engine), and one process's memory (SQLite servers)."""
    if request.param == "memory":
        return MemoryProofReplayStore()
    return stores.proofs


async def test_a_proof_is_first_used_once_until_it_expires(replays: ProofReplayStore) -> None:
    assert await replays.first_use("p1", expires_at=at(65), now=at(0)) is True
    assert await replays.first_use("p1", expires_at=at(70), now=at(5)) is False
    assert await replays.first_use("p2", expires_at=at(65), now=at(5)) is True
    # Once expired the entry is taken over: the proof itself is too old to pass by then.
    assert await replays.first_use("p1", expires_at=at(130), now=at(65)) is True
    assert await replays.first_use("p1", expires_at=at(140), now=at(100)) is False


async def test_concurrent_uses_of_one_proof_let_one_through(replays: ProofReplayStore) -> None:
    results = await asyncio.gather(
        *(replays.first_use("same", expires_at=at(65), now=at(0)) for _ in range(8))
    )
    assert sorted(results) == [False] * 7 + [True]


async def test_purge_forgets_expired_proofs_only(replays: ProofReplayStore) -> None:
    await replays.first_use("old", expires_at=at(10), now=at(0))
    await replays.first_use("new", expires_at=at(100), now=at(0))
    assert await replays.purge(before=at(50)) == 1
    assert await replays.first_use("new", expires_at=at(100), now=at(60)) is False
    assert await replays.first_use("old", expires_at=at(110), now=at(60)) is True
