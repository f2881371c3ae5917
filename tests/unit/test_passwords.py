import asyncio
import os
import threading
import time

import pytest
from argon2 import PasswordHasher as Argon2Hasher
from argon2 import Type

from tollgate.services.passwords import PasswordHasher, hashing_threads


async def test_hash_is_argon2id_with_owasp_parameters(hasher: PasswordHasher) -> None:
    encoded = await hasher.hash("violet-harbor-kettle-42")
    assert encoded.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert await hasher.verify(encoded, "violet-harbor-kettle-42")
    assert not await hasher.verify(encoded, "violet-harbor-kettle-43")


async def test_nfkc_equivalent_passwords_match(hasher: PasswordHasher) -> None:
    # "é" precomposed vs "e" + combining acute; fullwidth digits vs ASCII.
    encoded = await hasher.hash("caf\u00e9-\uff11\uff12\uff13-harbor")
    assert await hasher.verify(encoded, "cafe\u0301-123-harbor")


async def test_unknown_user_verifies_against_dummy(hasher: PasswordHasher) -> None:
    assert not await hasher.verify(None, "anything")


async def test_garbage_hash_is_a_failed_check(hasher: PasswordHasher) -> None:
    assert not await hasher.verify("not-a-hash", "anything")


async def test_weaker_hash_needs_rehash(hasher: PasswordHasher) -> None:
    old = Argon2Hasher(time_cost=1, memory_cost=8192, parallelism=1, type=Type.ID).hash("pw")
    assert hasher.needs_rehash(old)
    assert not hasher.needs_rehash(await hasher.hash("pw"))


async def test_hashing_does_not_block_the_event_loop(hasher: PasswordHasher) -> None:
    # While four hashes run, the loop keeps ticking every few milliseconds.
    ticks = 0
    stop = False

    async def ticker() -> None:
        nonlocal ticks
        while not stop:
            ticks += 1
            await asyncio.sleep(0.005)

    task = asyncio.create_task(ticker())
    started = time.perf_counter()
    await asyncio.gather(*(hasher.hash(f"password-{i}") for i in range(4)))
    elapsed = time.perf_counter() - started
    stop = True
    await task
    # A blocked loop would tick about once; a free one ticks about elapsed/5ms times.
    assert ticks >= max(3, int(elapsed / 0.005) // 4)


def test_hashing_threads_share_the_cores_among_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    assert hashing_threads() == 4  # one process: every core
    monkeypatch.setenv("WEB_CONCURRENCY", "2")
    assert hashing_threads() == 2
    monkeypatch.setenv("WEB_CONCURRENCY", "8")
    assert hashing_threads() == 1  # more workers than cores: still one each
    monkeypatch.setenv("WEB_CONCURRENCY", "many")
    assert hashing_threads() == 4


async def test_hashes_run_on_no_more_threads_than_the_workers_share(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Two workers on four cores: six hashes at once in one worker use two threads.
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    monkeypatch.setenv("WEB_CONCURRENCY", "2")
    before = {t.ident for t in threading.enumerate() if t.name.startswith("argon2")}
    hasher = PasswordHasher(time_cost=1, memory_kib=8192)
    await asyncio.gather(*(hasher.hash(f"password-{i}") for i in range(6)))
    used = {t.ident for t in threading.enumerate() if t.name.startswith("argon2")} - before
    assert len(used) == 2
