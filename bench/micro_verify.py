"""B5: tollgate.verify against the bare signature check it cannot avoid."""

from __future__ import annotations

import json
import time
import timeit
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from tollgate.keys.generation import generate_key
from tollgate.verify import Verifier

ISSUER = "http://bench.test"


def _per_call_us(function: Any, number: int) -> float:
    best = min(timeit.repeat(function, number=number, repeat=5))
    return best / number * 1e6


def measure() -> dict[str, float]:
    key = generate_key("ES256")
    private = serialization.load_pem_private_key(key.private_key, password=None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    now = int(time.time())

    def token(i: int) -> str:
        claims = {
            "iss": ISSUER,
            "aud": "tollgate",
            "sub": f"user{i}",
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "scope": "profile",
            "jti": str(i),
        }
        return jwt.encode(
            claims, private, algorithm="ES256", headers={"kid": key.kid, "typ": "at+jwt"}
        )

    jwks = {"keys": [key.public_jwk]}
    metadata = {"issuer": ISSUER, "jwks_uri": f"{ISSUER}/jwks.json"}

    def serve(request: httpx.Request) -> httpx.Response:
        body = metadata if request.url.path.endswith("authorization-server") else jwks
        return httpx.Response(
            200, content=json.dumps(body), headers={"Cache-Control": "max-age=300"}
        )

    transport = httpx.MockTransport(serve)
    cached = Verifier(ISSUER, transport=transport)
    uncached = Verifier(ISSUER, transport=transport, cache_size=0)
    one = token(0)
    cached.verify(one)
    uncached.verify(one)

    # The bare check: ECDSA over the signing input, with the JWS signature as DER.
    signing_input, _, signature_b64 = one.rpartition(".")
    raw = jwt.utils.base64url_decode(signature_b64)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    public = private.public_key()
    data = signing_input.encode()

    return {
        "bare_us": _per_call_us(lambda: public.verify(der, data, ec.ECDSA(hashes.SHA256())), 2000),
        "uncached_us": _per_call_us(lambda: uncached.verify(one), 2000),
        "cached_us": _per_call_us(lambda: cached.verify(one, ["profile"]), 200_000),
    }


if __name__ == "__main__":
    print(measure())
