"""DPoP proofs at Tollgate's own routes (RFC 9449): checked, then remembered once.

The check itself is `tollgate.verify.dpop` (the same code other services run); what the
server adds is the replay cache every worker and replica shares (§11.1): Redis when
`TOLLGATE_REDIS_URL` is set, the database otherwise (`ProofReplayStore`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from tollgate.clock import Clock
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
    nonces: Nonces | None = None  # TOLLGATE_DPOP_NONCE: proofs must carry a fresh one

    async def check(
        self,
        values: Sequence[str],
        *,
        method: str,
        url: str,
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
        if self.nonces is not None and not (proof.nonce and self.nonces.valid(proof.nonce)):
            raise UseDPoPNonce(self.nonces.current())
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
