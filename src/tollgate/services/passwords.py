"""argon2id hashing off the event loop, with a dummy hash so unknown users cost the same."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import threading
import unicodedata
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from argon2 import PasswordHasher as Argon2Hasher
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError

T = TypeVar("T")

# OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1.
OWASP_TIME_COST = 2
OWASP_MEMORY_KIB = 19 * 1024
OWASP_PARALLELISM = 1


# Hashing threads run this much nicer than the event loop (Linux: per thread), so a login
# flood uses idle cores fully but yields the CPU to token checks and everything else.
HASHING_NICENESS = 10


def _lower_priority() -> None:
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASHING_NICENESS)


def hashing_threads() -> int:
    """Hashing threads for this process: the cores shared among the server's workers.

    Each worker process has its own pool; with one thread per core in each, two workers
    on two cores ran four 19 MiB hashes at once, and the time slicing between them cost
    about 2 to 3 ms of CPU per login, measured under a login flood (bench/NOTES.md).
    `tollgate serve --workers N` sets WEB_CONCURRENCY (uvicorn's and gunicorn's name
    for the worker count) for its workers.
    """
    cores = os.cpu_count() or 1
    try:
        workers = int(os.environ.get("WEB_CONCURRENCY") or 1)
    except ValueError:
        workers = 1
    return max(1, cores // max(1, workers))


def normalize_password(password: str) -> str:
    # NIST SP 800-63B §5.1.1.2: normalize Unicode so the same password typed on
    # different keyboards or systems hashes the same.
    return unicodedata.normalize("NFKC", password)


class PasswordHasher:
    def __init__(
        self,
        time_cost: int = OWASP_TIME_COST,
        memory_kib: int = OWASP_MEMORY_KIB,
        parallelism: int = OWASP_PARALLELISM,
    ) -> None:
        self._argon2 = Argon2Hasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
        )
        # Verified against when the user does not exist, so that answer takes as long.
        self._dummy_hash = self._argon2.hash(secrets.token_urlsafe(16))
        # One hashing thread per core across the workers: memory-hard hashes in parallel
        # up to the cores, never more (more would only add memory and context switches).
        self._pool = ThreadPoolExecutor(
            max_workers=hashing_threads(),
            thread_name_prefix="argon2",
            initializer=_lower_priority,
        )

    async def _run(self, function: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, function, *args)

    async def hash(self, password: str) -> str:
        return await self._run(self._argon2.hash, normalize_password(password))

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """Constant work whether or not there is a hash to check against."""
        target = self._dummy_hash if password_hash is None else password_hash
        ok = await self._run(self._verify, target, normalize_password(password))
        return ok and password_hash is not None

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._argon2.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self._argon2.check_needs_rehash(password_hash)
