"""RFC 9449 §4.3: every way a DPoP proof is refused, with proofs made by tests/support/dpop.py."""

from __future__ import annotations

import base64
import json

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tests.support.dpop import ProofKey
from tollgate.verify.dpop import (
    InvalidDPoPProof,
    MemoryReplayCache,
    ProofChecker,
    UseDPoPNonce,
    normalized_url,
)

NOW = 1_800_000_000.0
URL = "https://auth.example.com/me"


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def checker() -> ProofChecker:
    return ProofChecker(clock=Clock())


@pytest.fixture
def key() -> ProofKey:
    return ProofKey()


def refused(checker: ProofChecker, proof: str, message: str, **request: str) -> None:
    request = {"method": "GET", "url": URL, **request}
    with pytest.raises(InvalidDPoPProof, match=message):
        checker.check(proof, **request)  # type: ignore[arg-type]


@pytest.mark.parametrize("alg", ["ES256", "EdDSA"])
def test_a_good_proof_names_its_key(checker: ProofChecker, alg: str) -> None:
    key = ProofKey(alg)
    proof = checker.check(key.proof("GET", URL, iat=NOW, jti="j1"), method="GET", url=URL)
    assert proof.jkt == key.jkt
    assert (proof.jti, proof.iat, proof.nonce) == ("j1", NOW, None)
    assert proof.expires_at == NOW + 60 + 5


def test_the_access_token_and_its_binding(checker: ProofChecker, key: ProofKey) -> None:
    token = "header.payload.signature"
    proof = key.proof("GET", URL, iat=NOW, access_token=token)
    assert checker.check(proof, method="GET", url=URL, access_token=token, jkt=key.jkt)
    refused(checker, proof, "does not name this access token", access_token="other.token.x")
    refused(checker, key.proof("GET", URL, iat=NOW), "does not name", access_token=token)
    refused(checker, proof, "not the one the token is bound to", jkt=ProofKey().jkt)


def test_method_and_url(checker: ProofChecker, key: ProofKey) -> None:
    refused(checker, key.proof("POST", URL, iat=NOW), "another HTTP method")
    refused(checker, key.proof("GET", "https://auth.example.com/other", iat=NOW), "another URL")
    refused(checker, key.proof("GET", "http://auth.example.com/me", iat=NOW), "another URL")
    refused(checker, key.proof("GET", "https://evil.example.com/me", iat=NOW), "another URL")
    refused(checker, key.proof("GET", "https://auth.example.com:8443/me", iat=NOW), "another URL")
    # §4.3: query and fragment are not compared; RFC 3986 §6 normalization is.
    for same in (
        "https://auth.example.com/me?x=1",
        "https://auth.example.com/me#f",
        "HTTPS://Auth.Example.COM:443/me",
        "https://auth.example.com/%6de",
    ):
        assert checker.check(key.proof("GET", same, iat=NOW), method="get", url=URL)


def test_normalized_url() -> None:
    assert normalized_url("http://h") == ("http", "h", 80, "/")
    assert normalized_url("https://h/a%2fb") == ("https", "h", 443, "/a%2Fb")
    assert normalized_url("https://[::1]:8443/x") == ("https", "::1", 8443, "/x")


def test_iat_window(checker: ProofChecker, key: ProofKey) -> None:
    assert checker.check(key.proof("GET", URL, iat=NOW - 64), method="GET", url=URL)
    assert checker.check(key.proof("GET", URL, iat=NOW + 5), method="GET", url=URL)
    refused(checker, key.proof("GET", URL, iat=NOW - 66), "too old")
    refused(checker, key.proof("GET", URL, iat=NOW + 6), "in the future")


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"jti": None}, 'needs a "jti"'),
        ({"jti": ""}, 'needs a "jti"'),
        ({"jti": "x" * 257}, 'needs a "jti"'),
        ({"htm": None}, 'needs "htm"'),
        ({"htu": 5}, 'needs "htm" and "htu"'),
        ({"iat": "1800000000"}, 'numeric "iat"'),
        ({"iat": True}, 'numeric "iat"'),
    ],
)
def test_required_claims(checker: ProofChecker, key: ProofKey, claims: dict, message: str) -> None:
    refused(checker, key.proof("GET", URL, iat=NOW, claims=claims), message)


def test_header_rules(checker: ProofChecker, key: ProofKey) -> None:
    refused(checker, key.proof("GET", URL, iat=NOW, header={"typ": "JWT"}), "typ")
    refused(checker, key.proof("GET", URL, iat=NOW, header={"jwk": key.private_jwk}), "private")
    refused(checker, key.proof("GET", URL, iat=NOW, header={"jku": "https://x"}), "jku")
    refused(checker, key.proof("GET", URL, iat=NOW, header={"crit": ["x"]}), "crit")
    no_jwk = jwt.encode(
        {"jti": "a", "htm": "GET", "htu": URL, "iat": NOW},
        key.private,
        algorithm="ES256",
        headers={"typ": "dpop+jwt"},
    )
    refused(checker, no_jwk, "public key")
    # An EdDSA key under an ES256 header: the key must fit the algorithm.
    refused(
        checker,
        key.proof("GET", URL, iat=NOW, header={"jwk": ProofKey("EdDSA").public_jwk}),
        "does not fit",
    )


def test_another_keys_signature(checker: ProofChecker, key: ProofKey) -> None:
    other = ProofKey()
    forged = key.proof("GET", URL, iat=NOW, header={"jwk": other.public_jwk})
    refused(checker, forged, "signature is invalid")


def test_symmetric_and_none_algorithms(checker: ProofChecker, key: ProofKey) -> None:
    claims = {"jti": "a", "htm": "GET", "htu": URL, "iat": NOW}
    hs = jwt.encode(
        claims, "s" * 32, algorithm="HS256", headers={"typ": "dpop+jwt", "jwk": key.public_jwk}
    )
    refused(checker, hs, "algorithm must be one of")

    def segment(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    none = (
        f"{segment({'alg': 'none', 'typ': 'dpop+jwt', 'jwk': key.public_jwk})}.{segment(claims)}."
    )
    refused(checker, none, "well-formed|algorithm")
    rs = ProofKey(private=ec.generate_private_key(ec.SECP384R1()))
    es384 = jwt.encode(
        claims, rs.private, algorithm="ES384", headers={"typ": "dpop+jwt", "jwk": rs.public_jwk}
    )
    refused(checker, es384, "algorithm must be one of")


@pytest.mark.parametrize("proof", ["", "a.b", "a.b.c", "..", "é.é.é", "a" * 9000])
def test_malformed(checker: ProofChecker, proof: str) -> None:
    refused(checker, proof, "well-formed|too long")


def test_nonce(checker: ProofChecker, key: ProofKey) -> None:
    with pytest.raises(UseDPoPNonce) as caught:
        checker.check(key.proof("GET", URL, iat=NOW), method="GET", url=URL, nonce="n-1")
    assert caught.value.headers()["DPoP-Nonce"] == "n-1"
    assert caught.value.body()["error"] == "use_dpop_nonce"
    with pytest.raises(UseDPoPNonce):
        checker.check(
            key.proof("GET", URL, iat=NOW, nonce="old"), method="GET", url=URL, nonce="n-1"
        )
    proof = checker.check(
        key.proof("GET", URL, iat=NOW, nonce="n-1"), method="GET", url=URL, nonce="n-1"
    )
    assert proof.nonce == "n-1"


def test_the_challenge() -> None:
    error = InvalidDPoPProof("The DPoP proof is too old.")
    assert error.status == 401
    assert error.headers()["WWW-Authenticate"] == (
        'DPoP algs="ES256 EdDSA", error="invalid_dpop_proof", '
        'error_description="The DPoP proof is too old."'
    )


def test_replay_cache_per_key_until_expiry(checker: ProofChecker, key: ProofKey) -> None:
    clock = Clock()
    cache = MemoryReplayCache(clock=clock)
    first = checker.check(key.proof("GET", URL, iat=NOW, jti="same"), method="GET", url=URL)
    assert cache.first_use(first) is True
    assert cache.first_use(first) is False
    # Another key may use the same jti: the cache is keyed by thumbprint and jti.
    other = checker.check(ProofKey().proof("GET", URL, iat=NOW, jti="same"), method="GET", url=URL)
    assert cache.first_use(other) is True
    clock.now = first.expires_at + 1  # by then the proof itself is too old anyway
    assert cache.first_use(first) is True


def test_replay_cache_forgets_expired_entries_when_full() -> None:
    clock = Clock()
    cache = MemoryReplayCache(clock=clock, max_entries=2)
    checker = ProofChecker(clock=clock)
    key = ProofKey()
    proofs = [
        checker.check(key.proof("GET", URL, iat=NOW), method="GET", url=URL) for _ in range(3)
    ]
    assert cache.first_use(proofs[0])
    assert cache.first_use(proofs[1])
    clock.now = NOW + 100
    assert cache.first_use(proofs[2])
    assert len(cache._seen) == 1
