"""argon2id hashing off the event loop, with a dummy hash so unknown users cost the same."""

from __future__ import annotations

import secrets
import unicodedata

import anyio.to_thread
from argon2 import PasswordHasher as Argon2Hasher
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError

# OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1.
OWASP_TIME_COST = 2
OWASP_MEMORY_KIB = 19 * 1024
OWASP_PARALLELISM = 1


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

    async def hash(self, password: str) -> str:
        return await anyio.to_thread.run_sync(self._argon2.hash, normalize_password(password))

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """Constant work whether or not there is a hash to check against."""
        target = self._dummy_hash if password_hash is None else password_hash
        ok = await anyio.to_thread.run_sync(self._verify, target, normalize_password(password))
        return ok and password_hash is not None

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._argon2.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self._argon2.check_needs_rehash(password_hash)
