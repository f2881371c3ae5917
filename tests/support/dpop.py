"""The tests' own DPoP proof maker (RFC 9449 §4.2), written from the RFC with PyJWT, not
with the code under test, so a proof can be made wrong in each way the checks refuse."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from jwt.algorithms import ECAlgorithm, OKPAlgorithm


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def ath(access_token: str) -> str:
    return b64url(hashlib.sha256(access_token.encode("ascii")).digest())


@dataclass
class ProofKey:
    alg: str = "ES256"
    private: Any = field(default=None)

    def __post_init__(self) -> None:
        if self.private is None:
            if self.alg == "EdDSA":
                self.private = ed25519.Ed25519PrivateKey.generate()
            else:
                self.private = ec.generate_private_key(ec.SECP256R1())

    @property
    def public_jwk(self) -> dict[str, Any]:
        codec = OKPAlgorithm if self.alg == "EdDSA" else ECAlgorithm
        jwk: dict[str, Any] = codec.to_jwk(self.private.public_key(), as_dict=True)
        return jwk

    @property
    def private_jwk(self) -> dict[str, Any]:
        codec = OKPAlgorithm if self.alg == "EdDSA" else ECAlgorithm
        jwk: dict[str, Any] = codec.to_jwk(self.private, as_dict=True)
        return jwk

    @property
    def jkt(self) -> str:
        # RFC 7638 §3.2: the required members only, sorted, no whitespace.
        jwk = self.public_jwk
        members = ("crv", "kty", "x", "y") if jwk["kty"] == "EC" else ("crv", "kty", "x")
        canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
        return b64url(hashlib.sha256(canonical.encode()).digest())

    def proof(
        self,
        method: str,
        url: str,
        *,
        access_token: str | None = None,
        nonce: str | None = None,
        iat: float | None = None,
        jti: str | None = None,
        claims: dict[str, Any] | None = None,
        header: dict[str, Any] | None = None,
    ) -> str:
        payload: dict[str, Any] = {
            "jti": jti or str(uuid.uuid4()),
            "htm": method,
            "htu": url,
            "iat": int(time.time() if iat is None else iat),
        }
        if access_token is not None:
            payload["ath"] = ath(access_token)
        if nonce is not None:
            payload["nonce"] = nonce
        payload.update(claims or {})
        headers = {"typ": "dpop+jwt", "jwk": self.public_jwk, **(header or {})}
        return jwt.encode(payload, self.private, algorithm=self.alg, headers=headers)
