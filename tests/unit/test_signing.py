"""Tokens signed with `cryptography` directly are PyJWT's tokens, byte for byte (the
signature too where the algorithm is deterministic), and both verifiers accept them."""

from __future__ import annotations

from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from tollgate.keys.generation import generate_key
from tollgate.tokens.signing import sign
from tollgate.verify import jws

CLAIMS: dict[str, Any] = {
    "iss": "https://auth.example",
    "sub": "0b5bf0a8-3a4e-4f55-9d64-54a3f9c3a0b1",
    "aud": "tollgate",
    "exp": 4_000_000_000,
    "iat": 1_700_000_000,
    "nbf": 1_700_000_000,
    "jti": "kY3-x_9",
    "scope": "profile email",
    "username": 'Minsu 김 "quoted" \\ ünïcode',  # escapes and non-ASCII as PyJWT writes them
}


def signing_material(alg: str) -> tuple[str, Any, Any]:
    """The kid, the private key and the verifying key, as the keyring loads them."""
    new = generate_key(alg)
    if alg == "HS256":
        return new.kid, new.private_key, new.private_key
    private = serialization.load_pem_private_key(new.private_key, password=None)
    return new.kid, private, private.public_key()  # type: ignore[union-attr]


@pytest.mark.parametrize("alg", ["ES256", "EdDSA", "RS256", "HS256"])
@pytest.mark.parametrize("typ", ["at+jwt", "rt+jwt"])
def test_a_token_is_the_one_pyjwt_makes(alg: str, typ: str) -> None:
    kid, private, public = signing_material(alg)
    ours = sign(CLAIMS, alg, private, kid, typ)
    theirs = jwt.encode(CLAIMS, private, algorithm=alg, headers={"typ": typ, "kid": kid})
    if alg == "ES256":  # ECDSA signs with a fresh random nonce: only the signed part agrees
        assert ours.rsplit(".", 1)[0] == theirs.rsplit(".", 1)[0]
        assert len(jws._b64(ours.rsplit(".", 1)[1])) == 64  # R || S (RFC 7518 §3.4)
    else:
        assert ours == theirs
    assert jwt.get_unverified_header(ours) == {"alg": alg, "kid": kid, "typ": typ}
    decoded = jwt.decode(ours, public, algorithms=[alg], audience="tollgate")
    assert decoded == CLAIMS
    parsed = jws.parse(ours, {})
    jws.verify_signature(alg, public, parsed.signing_input, parsed.signature)


def test_a_key_of_another_algorithm_signs_nothing() -> None:
    kid, private, _ = signing_material("EdDSA")
    with pytest.raises(ValueError, match="cannot sign ES256"):
        sign(CLAIMS, "ES256", private, kid, "at+jwt")


def test_a_changed_claim_breaks_the_signature() -> None:
    kid, private, public = signing_material("ES256")
    head, _, signature = sign(CLAIMS, "ES256", private, kid, "at+jwt").split(".")
    _, other, _ = sign({**CLAIMS, "scope": "admin"}, "ES256", private, kid, "at+jwt").split(".")
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(f"{head}.{other}.{signature}", public, algorithms=["ES256"], audience="tollgate")
