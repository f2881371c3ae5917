"""Compact JWS, parsed once and checked with `cryptography` directly.

PyJWT parses a token twice on the way (header, then the whole) and carries general
machinery a pinned-algorithm check does not need; measured in bench/ (B5) it doubled
the cost of the signature check itself. This does the same checks, strictly: three
base64url segments, UTF-8 JSON objects without duplicate members, the key's own
algorithm, and a signature of the exact length that algorithm makes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from tollgate.verify.errors import InvalidToken

# Three segments at once: one match instead of a split and three.
COMPACT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Parsed:
    header: dict[str, Any]
    payload_segment: str
    signing_input: bytes
    signature: bytes


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise InvalidToken(f"The token repeats the member {name!r}.")
        result[name] = value
    return result


def _b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def json_object(segment: str) -> dict[str, Any]:
    try:
        value = json.loads(_b64(segment).decode("utf-8"), object_pairs_hook=_unique)
    except (binascii.Error, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InvalidToken("The token is malformed.") from exc
    if not isinstance(value, dict):
        raise InvalidToken("The token is malformed.")
    return value


# Every token a key signs carries the very same header segment: parsed once, then looked
# up. Bounded, so varied forged headers cannot grow it.
HEADER_MEMO_SIZE = 64


def parse(token: str, memo: dict[str, dict[str, Any]]) -> Parsed:
    if not COMPACT.fullmatch(token):
        raise InvalidToken("The token is malformed.")
    head, body, signature = token.split(".")
    try:
        raw_signature = _b64(signature)
    except binascii.Error as exc:
        raise InvalidToken("The token is malformed.") from exc
    header = memo.get(head)
    if header is None:
        header = json_object(head)
        if len(memo) >= HEADER_MEMO_SIZE:
            memo.clear()
        memo[head] = header
    # A copy: callers may not change what the next token of this key will see.
    return Parsed(dict(header), body, f"{head}.{body}".encode("ascii"), raw_signature)


def verify_signature(alg: str, key: Any, data: bytes, signature: bytes) -> None:
    """Raise InvalidToken unless `signature` is `key`'s signature of `data` under `alg`."""
    try:
        if alg == "ES256" and isinstance(key, ec.EllipticCurvePublicKey):
            if len(signature) != 64:  # RFC 7518 §3.4: R || S, 32 octets each
                raise InvalidSignature
            r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            key.verify(encode_dss_signature(r, s), data, ec.ECDSA(hashes.SHA256()))
        elif alg == "EdDSA" and isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, data)
        elif alg == "RS256" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        elif alg == "HS256" and isinstance(key, bytes):
            expected = hmac.new(key, data, hashlib.sha256).digest()
            if not hmac.compare_digest(expected, signature):
                raise InvalidSignature
        else:
            raise InvalidToken("The token's algorithm does not match its key.")
    except InvalidSignature as exc:
        raise InvalidToken("The token's signature is invalid.") from exc
