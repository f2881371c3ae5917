"""The keys this process signs and verifies with, loaded from the database.

Every process on the same database sees the same keys: a key made or rotated by one
replica, or retired with the CLI, reaches the others within `reload_interval`, and an
unknown `kid` is looked up at once (at most every MISS_RELOAD_SECONDS).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from tollgate.clock import Clock, SystemClock
from tollgate.events import EventBus
from tollgate.keys.rotation import (
    ID_TOKEN_ALG,
    ID_TOKEN_KID_PREFIX,
    create_key,
    current_signer,
    pending,
    signs_id_tokens,
)
from tollgate.keys.sealing import unseal
from tollgate.store.interfaces import KeyStore
from tollgate.store.records import KeyRecord, StoreUnavailable

log = logging.getLogger("tollgate.keys")

# The algorithm of a new database's first key when TOLLGATE_SIGNING_ALG is not set.
DEFAULT_ALG = "ES256"

# An unknown `kid` reloads at most this often, so forged kids cannot each cost a query.
MISS_RELOAD_SECONDS = 2.0

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

    @property
    def signs_id_tokens(self) -> bool:
        """An ID-token key (keys.rotation): never good for an access or refresh token."""
        return self.kid.startswith(ID_TOKEN_KID_PREFIX)


def load_key(row: KeyRecord, secret: str | None) -> Key:
    material = unseal(row.private_key, secret, row.kid)
    if row.alg == "HS256":
        return Key(row.kid, row.alg, material, material, None)
    private = serialization.load_pem_private_key(material, password=None)
    if not isinstance(
        private, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey
    ):
        raise TypeError(f"key {row.kid} is of an unsupported type")
    jwk = json.loads(row.public_jwk) if row.public_jwk else None
    return Key(row.kid, row.alg, private, private.public_key(), jwk)


class Keyring:
    def __init__(
        self,
        store: KeyStore,
        alg: str | None,
        secret: str | None,
        reload_interval: float = 10.0,
        jwks_max_age: int = 300,
        events: EventBus | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._events = events
        # Which key signs is a matter of time (a rotated-in key waits); tests move it.
        self._clock = clock or SystemClock()
        self._store = store
        self._reload_interval = reload_interval
        self._alg = alg
        self._jwks_max_age = jwks_max_age
        self._secret = secret
        self._rows: list[KeyRecord] = []
        self._keys: dict[str, Key] = {}
        self._loaded_at = float("-inf")

    async def ensure_signing_key(self) -> KeyRecord | None:
        """Make sure a key signs; returns the key this made, if any.

        A new database gets a key of the configured algorithm (ES256 when none is set),
        signing at once. A database whose signing key has another algorithm than the one
        configured changes over as `tollgate keys rotate` does: a key of the new algorithm
        is published now and signs only after `jwks_max_age`, so verifiers hold it first.
        Without a configured algorithm, the database's own stays.

        An RS256 key for ID tokens is made beside it when none signs (keys.rotation).
        """
        await self.reload()
        if current_signer(self._rows, self._clock.now(), id_tokens=True) is None:
            await create_key(
                self._store,
                ID_TOKEN_ALG,
                self._secret,
                now=self._clock.now(),
                events=self._events,
                first=not self._rows,
                id_tokens=True,
            )
            await self.reload()
        now = self._clock.now()
        signer = current_signer(self._rows, now)
        if signer is None:
            made = await create_key(
                self._store,
                self._alg or DEFAULT_ALG,
                self._secret,
                now=now,
                events=self._events,
                first=not any(not signs_id_tokens(row) for row in self._rows),
            )
        elif self._alg is None or self._alg == signer.alg:
            return None
        elif (waiting := pending(self._rows, self._alg, now)) is not None:
            log.warning(
                "signing algorithm: %s key %s signs until %s UTC, then %s key %s takes over",
                signer.alg, signer.kid, f"{waiting.activates_at:%Y-%m-%d %H:%M:%S}",
                waiting.alg, waiting.kid,
            )  # fmt: skip
            return None
        else:
            made = await create_key(
                self._store,
                self._alg,
                self._secret,
                activates_in=self._jwks_max_age,
                now=now,
                events=self._events,
            )
            log.warning(
                "signing algorithm changes from %s to %s: key %s is published now and signs "
                "from %s UTC (after TOLLGATE_JWKS_MAX_AGE); %s key %s signs until then",
                signer.alg, made.alg, made.kid, f"{made.activates_at:%Y-%m-%d %H:%M:%S}",
                signer.alg, signer.kid,
            )  # fmt: skip
        await self.reload()
        return made

    async def reload(self) -> None:
        rows = await self._store.usable()
        # A key already loaded from the same stored material is kept, not parsed again:
        # parsing an RSA private key (the ID-token key) costs ~30 ms of CPU (cryptography
        # checks the key), on the event loop, at every reload of every process.
        known = {row.kid: row.private_key for row in self._rows}
        self._keys = {
            row.kid: self._keys[row.kid]
            if known.get(row.kid) == row.private_key and row.kid in self._keys
            else load_key(row, self._secret)
            for row in rows
        }
        self._rows = rows
        self._loaded_at = time.monotonic()

    async def _reload_if_older_than(self, seconds: float) -> None:
        if time.monotonic() - self._loaded_at < seconds:
            return
        try:
            await self.reload()
        except StoreUnavailable:
            if not self._keys:
                raise
            # Keep signing and verifying with the keys we have while the database is
            # away; try again after another interval.
            log.warning("could not reload signing keys; using the ones loaded before")
            self._loaded_at = time.monotonic()

    async def signer(self) -> Key:
        """The key that signs new tokens now."""
        await self._reload_if_older_than(self._reload_interval)
        row = current_signer(self._rows, self._clock.now())
        if row is None:
            raise RuntimeError("no signing key; run `tollgate keys rotate --now`")
        return self._keys[row.kid]

    async def id_token_signer(self) -> Key:
        """The key that signs new ID tokens now (RS256, keys.rotation)."""
        await self._reload_if_older_than(self._reload_interval)
        row = current_signer(self._rows, self._clock.now(), id_tokens=True)
        if row is None:
            raise RuntimeError("no ID-token key; run `tollgate keys rotate --now`")
        return self._keys[row.kid]

    async def algorithms(self) -> list[str]:
        """The algorithms of every unretired access-token key: what a verifier of access
        tokens should accept."""
        await self._reload_if_older_than(self._reload_interval)
        return sorted({row.alg for row in self._rows if not signs_id_tokens(row)})

    async def id_token_algorithms(self) -> list[str]:
        """What ID tokens may be signed with: RS256 (their own key), and the algorithm of
        the key signing access tokens now unless it is HS256 (a client registered for it
        gets its ID tokens signed by that key; a shared secret is no client's to verify)."""
        signer = await self.signer()
        return sorted({ID_TOKEN_ALG} | ({signer.alg} if signer.alg != "HS256" else set()))

    async def find(self, kid: str) -> Key | None:
        await self._reload_if_older_than(self._reload_interval)
        key = self._keys.get(kid)
        if key is None:
            await self._reload_if_older_than(MISS_RELOAD_SECONDS)
            key = self._keys.get(kid)
        return key

    async def jwks(self) -> dict[str, list[dict[str, Any]]]:
        """Public keys of every unretired key; HS256 secrets are never published."""
        await self._reload_if_older_than(self._reload_interval)
        return {"keys": [k.public_jwk for k in self._keys.values() if k.public_jwk]}
