"""DPoP proofs at Tollgate's own routes (RFC 9449): checked, then remembered once.

The check itself is `tollgate.verify.dpop` (the same code other services run); what the
server adds is the replay cache every worker and replica shares (§11.1): Redis when
`TOLLGATE_REDIS_URL` is set, the database otherwise (`ProofReplayStore`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from tollgate.clock import Clock
from tollgate.store.interfaces import ProofReplayStore
from tollgate.verify.dpop import InvalidDPoPProof, Proof, ProofChecker


def proof_id(proof: Proof) -> str:
    """A proof's name in the replay cache: its key and its `jti`, hashed to a fixed size
    (a `jti` is the client's choice, up to 256 characters)."""
    return hashlib.sha256(f"{proof.jkt} {proof.jti}".encode()).hexdigest()


@dataclass
class ProofGate:
    checker: ProofChecker
    replays: ProofReplayStore
    clock: Clock

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
        expires = datetime.fromtimestamp(proof.expires_at, UTC)
        if not await self.replays.first_use(proof_id(proof), expires, self.clock.now()):
            raise InvalidDPoPProof("The DPoP proof was used before.")
        return proof
