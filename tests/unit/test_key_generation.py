import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from tollgate.keys.generation import generate_key, thumbprint

# RFC 7638 §3.1 example key and its thumbprint.
RFC7638_JWK = {
    "kty": "RSA",
    "n": (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_B"
        "JECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_F"
        "DW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4"
        "vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
    ),
    "e": "AQAB",
    "alg": "RS256",
    "kid": "2011-04-29",
}


def test_thumbprint_matches_rfc7638_example() -> None:
    assert thumbprint(RFC7638_JWK) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


@pytest.mark.parametrize(("alg", "kty"), [("ES256", "EC"), ("EdDSA", "OKP"), ("RS256", "RSA")])
def test_asymmetric_keys_publish_only_public_members(alg: str, kty: str) -> None:
    key = generate_key(alg)
    assert key.public_jwk is not None
    assert key.public_jwk["kty"] == kty
    assert key.public_jwk["alg"] == alg
    assert key.public_jwk["use"] == "sig"
    assert key.public_jwk["kid"] == key.kid == thumbprint(key.public_jwk)
    assert not {"d", "p", "q", "dp", "dq", "qi", "k"} & key.public_jwk.keys()


@pytest.mark.parametrize("alg", ["ES256", "EdDSA", "RS256"])
def test_private_key_signs_what_public_jwk_verifies(alg: str) -> None:
    key = generate_key(alg)
    private = serialization.load_pem_private_key(key.private_key, password=None)
    token = jwt.encode({"x": 1}, private, algorithm=alg)  # type: ignore[arg-type]
    public = jwt.PyJWK(key.public_jwk)
    assert jwt.decode(token, public, algorithms=[alg]) == {"x": 1}


def test_rsa_keys_are_3072_bits() -> None:
    # README: "RSA keys are 3072 bits" (NIST SP 800-57: 128-bit security, like ES256).
    key = generate_key("RS256")
    private = serialization.load_pem_private_key(key.private_key, password=None)
    assert private.key_size == 3072  # type: ignore[union-attr]
    public = jwt.PyJWK(key.public_jwk)
    assert public.key.key_size == 3072


def test_hs256_secret_is_long_and_unpublished() -> None:
    key = generate_key("HS256")
    assert key.public_jwk is None
    assert len(key.private_key) >= 32


def test_keys_are_fresh_each_time() -> None:
    assert generate_key("ES256").kid != generate_key("ES256").kid
