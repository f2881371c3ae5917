"""The server's DPoP proof gate on a real store: checked, used once, nonces when on."""

from __future__ import annotations

import pytest

from tests.support.dpop import ProofKey
from tollgate.clock import MovableClock
from tollgate.services.container import Services
from tollgate.services.dpop import ProofGate
from tollgate.store.stores import Stores
from tollgate.verify.dpop import InvalidDPoPProof, ProofChecker, UseDPoPNonce

URL = "http://tollgate.test/auth"


@pytest.fixture
def stores(services: Services) -> Stores:
    return services.stores  # SQLite and PostgreSQL (tests/services/conftest.py)


async def fixed_key() -> bytes:
    return b"k" * 32


def gate(stores: Stores, clock: MovableClock, *, nonces: bool = False) -> ProofGate:
    return ProofGate(
        ProofChecker(clock=clock.timestamp),
        stores.proofs,
        clock,
        fixed_key if nonces else None,
    )


async def test_a_proof_passes_once(stores: Stores) -> None:
    clock = MovableClock()
    proofs = gate(stores, clock)
    key = ProofKey()
    proof = key.proof("POST", URL, iat=clock.timestamp())
    checked = await proofs.check([proof], method="POST", url=URL)
    assert checked is not None
    assert checked.jkt == key.jkt
    with pytest.raises(InvalidDPoPProof, match="used before"):
        await proofs.check([proof], method="POST", url=URL)
    # Another key's proof with the same jti is its own.
    other = ProofKey().proof("POST", URL, iat=clock.timestamp(), jti=checked.jti)
    assert await proofs.check([other], method="POST", url=URL) is not None


async def test_none_needed_none_sent_and_a_bound_token_needs_one(stores: Stores) -> None:
    proofs = gate(stores, MovableClock())
    assert await proofs.check([], method="GET", url=URL) is None
    with pytest.raises(InvalidDPoPProof, match="bound to a key"):
        await proofs.check([], method="GET", url=URL, jkt=ProofKey().jkt)
    with pytest.raises(InvalidDPoPProof, match="exactly one"):
        await proofs.check(["a", "b"], method="GET", url=URL)


async def test_nonces_across_gates_and_windows(stores: Stores) -> None:
    clock = MovableClock()
    first, second = gate(stores, clock, nonces=True), gate(stores, clock, nonces=True)
    key = ProofKey()
    with pytest.raises(UseDPoPNonce) as asked:
        await first.check([key.proof("POST", URL, iat=clock.timestamp())], method="POST", url=URL)
    nonce = asked.value.nonce
    # Another replica (same derived key) takes it, for about a minute and no longer.
    proof = key.proof("POST", URL, iat=clock.timestamp(), nonce=nonce)
    assert await second.check([proof], method="POST", url=URL) is not None
    clock.advance(59)
    fresh = key.proof("POST", URL, iat=clock.timestamp(), nonce=nonce)
    assert await first.check([fresh], method="POST", url=URL) is not None
    clock.advance(61)
    stale = key.proof("POST", URL, iat=clock.timestamp(), nonce=nonce)
    with pytest.raises(UseDPoPNonce):
        await first.check([stale], method="POST", url=URL)
    forged = key.proof("POST", URL, iat=clock.timestamp(), nonce=nonce[:-2] + "AA")
    with pytest.raises(UseDPoPNonce):
        await first.check([forged], method="POST", url=URL)
