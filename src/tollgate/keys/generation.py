"""Make a new signing key for one algorithm and name it by its RFC 7638 thumbprint."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from tollgate.verify.thumbprint import THUMBPRINT_MEMBERS, b64url, thumbprint

RSA_BITS = 3072
# HS256 secrets: 512 bits, well above the 256 bits RFC 7518 §3.2 requires.
HMAC_SECRET_BYTES = 64


@dataclass(frozen=True)
class NewKey:
    kid: str
    alg: str
    private_key: bytes
    public_jwk: dict[str, Any] | None


def public_jwk(public_key: PublicKeyTypes, alg: str) -> dict[str, Any]:
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        jwk = ECAlgorithm.to_jwk(public_key, as_dict=True)
    elif isinstance(public_key, ed25519.Ed25519PublicKey):
        jwk = OKPAlgorithm.to_jwk(public_key, as_dict=True)
    elif isinstance(public_key, rsa.RSAPublicKey):
        jwk = RSAAlgorithm.to_jwk(public_key, as_dict=True)
    else:
        raise TypeError(f"unsupported public key type {type(public_key).__name__}")
    jwk = {k: v for k, v in jwk.items() if k in THUMBPRINT_MEMBERS[jwk["kty"]]}
    return {**jwk, "kid": thumbprint(jwk), "alg": alg, "use": "sig"}


def _private_key(alg: str, rsa_bits: int) -> PrivateKeyTypes:
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    if alg == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
    raise ValueError(f"unsupported signing algorithm {alg!r}")


def generate_key(alg: str, rsa_bits: int = RSA_BITS) -> NewKey:
    if alg == "HS256":
        secret = secrets.token_bytes(HMAC_SECRET_BYTES)
        return NewKey(
            kid=thumbprint({"kty": "oct", "k": b64url(secret)}),
            alg=alg,
            private_key=secret,
            public_jwk=None,
        )
    private = _private_key(alg, rsa_bits)
    jwk = public_jwk(private.public_key(), alg)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return NewKey(kid=jwk["kid"], alg=alg, private_key=pem, public_jwk=jwk)
