"""Compact JWS signing (RFC 7515 §7.1) with `cryptography` directly, as verify/jws.py
verifies.

The tokens are byte for byte what PyJWT's `jwt.encode(claims, key, algorithm=alg,
headers={"typ": typ, "kid": kid})` makes: the header `{"alg", "kid", "typ"}` with sorted
members, the claims as compact JSON in their order, base64url without padding, and for
ES256 the signature as R || S of 32 octets each (RFC 7518 §3.4). What this leaves out is
PyJWT's general machinery around the signature (looking the algorithm up, checking and
merging headers, encoding the same header again for every token, converting the DER
signature through Python integers): per refresh (two signatures) about 50-80 µs of CPU
beside 60 µs for the signatures themselves (bench/floor.py). tests/unit/test_signing.py
holds it to PyJWT's output for every algorithm a key may have.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

ES256 = ec.ECDSA(hashes.SHA256())
SHA256 = hashes.SHA256()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@functools.lru_cache(maxsize=64)
def header_segment(alg: str, kid: str, typ: str) -> str:
    """The encoded header, the same for every token of one key and type."""
    header = {"alg": alg, "kid": kid, "typ": typ}
    return _b64(json.dumps(header, separators=(",", ":"), sort_keys=True).encode("utf-8"))


def signature(alg: str, key: Any, data: bytes) -> bytes:
    """`key`'s JWS signature of `data` under `alg` (RFC 7518 §3)."""
    if alg == "ES256" and isinstance(key, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(key.sign(data, ES256))
        size = (key.curve.key_size + 7) // 8
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    if alg == "EdDSA" and isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(data)
    if alg == "RS256" and isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), SHA256)
    if alg == "HS256" and isinstance(key, bytes):
        return hmac.new(key, data, hashlib.sha256).digest()
    raise ValueError(f"a {type(key).__name__} cannot sign {alg}")


def sign(claims: dict[str, Any], alg: str, key: Any, kid: str, typ: str) -> str:
    head = header_segment(alg, kid, typ)
    body = _b64(json.dumps(claims, separators=(",", ":")).encode("utf-8"))
    signing_input = f"{head}.{body}"
    return f"{signing_input}.{_b64(signature(alg, key, signing_input.encode('ascii')))}"
