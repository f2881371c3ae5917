"""DPoP proofs at Tollgate's own routes (RFC 9449): checked, then remembered once.

The check itself is `tollgate.verify.dpop` (the same code other services run); what the
server adds is the replay cache every worker and replica shares (§11.1): Redis when
`TOLLGATE_REDIS_URL` is set, the database otherwise (`ProofReplayStore`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from tollgate.clock import Clock
from tollgate.keys.keyring import Keyring
from tollgate.store.interfaces import ProofReplayStore
from tollgate.verify.dpop import InvalidDPoPProof, Proof, ProofChecker, UseDPoPNonce


def proof_id(proof: Proof) -> str:
    """A proof's name in the replay cache: its key and its `jti`, hashed to a fixed size
    (a `jti` is the client's choice, up to 256 characters)."""
    return hashlib.sha256(f"{proof.jkt} {proof.jti}".encode()).hexdigest()


@dataclass
class ProofGate:
    checker: ProofChecker
    replays: ProofReplayStore
    clock: Clock
    # TOLLGATE_DPOP_NONCE: proofs must carry a fresh nonce, MACed with this key.
    nonce_key: Callable[[], Awaitable[bytes]] | None = None

    async def nonce(self) -> str | None:
        """The nonce to hand out now (the DPoP-Nonce header), None when nonces are off."""
        if self.nonce_key is None:
            return None
        return Nonces(await self.nonce_key(), self.clock).current()

    async def check(
        self,
        values: Sequence[str],
        *,
        method: str,
        url: str | Sequence[str],
        access_token: str | None = None,
        jkt: str | None = None,
    ) -> Proof | None:
        """The request's proof (`values`: its DPoP header fields), checked and used once;
        None when it sent none and none is needed (`jkt` None: an unbound token or none)."""
        if not values:
            if jkt is not None:
                raise InvalidDPoPProof("The token is bound to a key: send a DPoP proof.")
            return None
        if len(values) > 1:  # RFC 9449 §4.3 (1)
            raise InvalidDPoPProof("The request needs exactly one DPoP proof header.")
        proof = self.checker.check(
            values[0], method=method, url=url, access_token=access_token, jkt=jkt
        )
        if self.nonce_key is not None:
            nonces = Nonces(await self.nonce_key(), self.clock)
            if not (proof.nonce and nonces.valid(proof.nonce)):
                raise UseDPoPNonce(nonces.current())
        expires = datetime.fromtimestamp(proof.expires_at, UTC)
        if not await self.replays.first_use(proof_id(proof), expires, self.clock.now()):
            raise InvalidDPoPProof("The DPoP proof was used before.")
        return proof


# RFC 9449 §8: a nonce is good for this many seconds' windows: the current and the two
# before it, so one handed out just before a window ends still lasts a minute.
NONCE_WINDOW = 30
NONCE_WINDOWS_ACCEPTED = 3


@dataclass(frozen=True)
class Nonces:
    """Server nonces needing no storage: the time window, MACed with a key every replica
    derives alike (so they hold across replicas and restarts)."""

    key: bytes
    clock: Clock

    def current(self) -> str:
        return self._mint(int(self.clock.timestamp()) // NONCE_WINDOW)

    def valid(self, nonce: str) -> bool:
        window = int(self.clock.timestamp()) // NONCE_WINDOW
        return any(
            hmac.compare_digest(nonce, self._mint(window - age))
            for age in range(NONCE_WINDOWS_ACCEPTED)
        )

    def _mint(self, window: int) -> str:
        stamp = window.to_bytes(8, "big")
        mac = hmac.new(self.key, b"dpop-nonce" + stamp, hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(stamp + mac).rstrip(b"=").decode("ascii")


def nonce_key_source(keyring: Keyring, secret_key: str | None) -> Callable[[], Awaitable[bytes]]:
    """Where every replica finds the same nonce key: TOLLGATE_SECRET_KEY when set, else
    the current signing key in the shared database (a rotation changes the nonces; a
    client then retries once with the new one, as §8 expects)."""

    async def key() -> bytes:
        if secret_key:
            material = secret_key.encode()
        else:
            signing = (await keyring.signer()).signing_key
            material = (
                signing
                if isinstance(signing, bytes)
                else signing.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
            )
        return hmac.new(material, b"tollgate dpop nonce key", hashlib.sha256).digest()

    return key
