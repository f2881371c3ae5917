"""The keys this process signs and verifies with, loaded from the database.

Every process on the same database sees the same keys: a key made by one replica (or a
rotation) reaches the others when they meet its `kid`, or at their next reload.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tollgate.keys.generation import generate_key
from tollgate.store import keys as key_store
from tollgate.store.models import SigningKey

# An unknown `kid` reloads keys from the database at most this often, so forged kids
# cannot turn into a database query each.
RELOAD_INTERVAL_SECONDS = 5.0


SigningKeyMaterial = (
    ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey | bytes
)


@dataclass(frozen=True)
class Key:
    kid: str
    alg: str
    signing_key: SigningKeyMaterial
    verifying_key: Any
    public_jwk: dict[str, Any] | None
    active: bool


def _load(row: SigningKey) -> Key:
    if row.alg == "HS256":
        return Key(row.kid, row.alg, row.private_key, row.private_key, None, row.active)
    private = serialization.load_pem_private_key(row.private_key, password=None)
    if not isinstance(
        private, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey
    ):
        raise TypeError(f"key {row.kid} is of an unsupported type")
    jwk = json.loads(row.public_jwk) if row.public_jwk else None
    return Key(row.kid, row.alg, private, private.public_key(), jwk, row.active)


class Keyring:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], alg: str) -> None:
        self._sessionmaker = sessionmaker
        self._alg = alg
        self._keys: dict[str, Key] = {}
        self._signing: Key | None = None
        self._loaded_at = float("-inf")

    async def ensure_signing_key(self) -> None:
        """Create a key for the configured algorithm on first start, then load all keys."""
        await self.reload()
        if self._signing is None:
            new = generate_key(self._alg)
            async with self._sessionmaker.begin() as db:
                db.add(
                    SigningKey(
                        kid=new.kid,
                        alg=new.alg,
                        private_key=new.private_key,
                        public_jwk=json.dumps(new.public_jwk) if new.public_jwk else None,
                        active=True,
                    )
                )
            await self.reload()
        if self._signing is None:
            raise RuntimeError(f"no active signing key for {self._alg}")

    async def reload(self) -> None:
        async with self._sessionmaker() as db:
            rows = await key_store.usable(db)
        keys = [_load(row) for row in rows]
        self._keys = {key.kid: key for key in keys}
        # Newest active key of the configured algorithm signs; rows come newest first.
        self._signing = next((k for k in keys if k.active and k.alg == self._alg), None)
        self._loaded_at = time.monotonic()

    @property
    def signing_key(self) -> Key:
        if self._signing is None:
            raise RuntimeError("keyring not loaded")
        return self._signing

    async def find(self, kid: str) -> Key | None:
        key = self._keys.get(kid)
        if key is None and time.monotonic() - self._loaded_at >= RELOAD_INTERVAL_SECONDS:
            await self.reload()
            key = self._keys.get(kid)
        return key

    async def reload_if_older_than(self, seconds: float) -> None:
        """Pick up keys made or retired by other processes on the same database."""
        if time.monotonic() - self._loaded_at >= seconds:
            await self.reload()

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        """Public keys only; HS256 secrets are never published."""
        return {"keys": [k.public_jwk for k in self._keys.values() if k.public_jwk]}
