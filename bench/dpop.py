"""Issue 15's rows: DPoP-bound tokens checked at GET /auth (wrk, a fresh proof per
request) and by tollgate.verify in-process, each beside what it cannot go below."""

from __future__ import annotations

import json
import time
import timeit
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from tests.e2e.redis_server import running_redis

from bench.harness import WrkResult, serve, tollgate, wrk
from tollgate.client.dpop import DPoPKey
from tollgate.keys.generation import generate_key
from tollgate.verify import Verifier

ISSUER = "http://bench.test"


def bound_login(base: str, key: DPoPKey, username: str, password: str) -> str:
    httpx.post(f"{base}/join", json={"username": username, "password": password}, timeout=30)
    response = httpx.post(
        f"{base}/login",
        json={"username": username, "password": password},
        headers={"DPoP": key.proof("POST", f"{ISSUER}/login")},
        timeout=30,
    )
    response.raise_for_status()
    assert response.json()["token_type"] == "DPoP"
    access: str = response.json()["access_token"]
    return access


def proofs_file(key: DPoPKey, access: str, url: str, count: int, folder: Path) -> Path:
    """`count` proofs for GET `url` with `access`, one per line, each used once by
    wrk/dpop.lua (made just before the run: a proof lives 60 s)."""
    path = folder / f"proofs-{time.monotonic_ns()}.txt"
    path.write_text(
        "\n".join(key.proof("GET", url, access_token=access) for _ in range(count)) + "\n"
    )
    return path


def gateway_load(folder: Path, env: dict[str, str], seconds: int, password: str) -> WrkResult:
    """GET /auth with one DPoP-bound token and a fresh proof per request, on a Tollgate
    with every core's worker sharing its replay cache in Redis (one round trip a check)."""
    with running_redis(folder) as redis_url:
        settings = {**env, "TOLLGATE_REDIS_URL": redis_url}
        with serve(tollgate(), "/health", settings) as server:
            key = DPoPKey()
            access = bound_login(server.base, key, "dpop", password)
            # More proofs than the run can use: a replayed one would count as failed.
            proofs = proofs_file(key, access, f"{ISSUER}/auth", 60_000 * seconds // 5, folder)
            return wrk(
                server.base + "/auth",
                script="dpop.lua",
                seconds=seconds,
                env={"BENCH_TOKEN": access, "BENCH_PROOFS_FILE": str(proofs)},
            )


def _per_call_us(function: Any, number: int) -> float:
    best = min(timeit.repeat(function, number=number, repeat=5))
    return best / number * 1e6


def measure_verify() -> dict[str, float]:
    """tollgate.verify's uncached check of a DPoP-bound token with a fresh proof, against
    one bare ES256 verify (it needs two: the proof's and the token's)."""
    signing = generate_key("ES256")
    private = serialization.load_pem_private_key(signing.private_key, password=None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    client = DPoPKey()
    now = int(time.time())
    token = jwt.encode(
        {
            "iss": ISSUER,
            "aud": "tollgate",
            "sub": "user",
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "scope": "profile",
            "jti": "1",
            "cnf": {"jkt": _jkt(client)},
        },
        private,
        algorithm="ES256",
        headers={"kid": signing.kid, "typ": "at+jwt"},
    )
    jwks = {"keys": [signing.public_jwk]}
    metadata = {"issuer": ISSUER, "jwks_uri": f"{ISSUER}/jwks.json"}

    def serve(request: httpx.Request) -> httpx.Response:
        body = metadata if request.url.path.endswith("authorization-server") else jwks
        return httpx.Response(200, content=json.dumps(body))

    verifier = Verifier(ISSUER, transport=httpx.MockTransport(serve), cache_size=0)
    url = "http://service.test/notes"
    number, repeat = 2000, 5
    proofs = iter([client.proof("GET", url, access_token=token) for _ in range(number * repeat)])
    authorization = f"DPoP {token}"
    verifier.verify_request(authorization, method="GET", url=url, dpop=[next(proofs)])

    def check() -> None:
        verifier.verify_request(authorization, method="GET", url=url, dpop=[next(proofs)])

    signing_input, _, signature_b64 = token.rpartition(".")
    raw = jwt.utils.base64url_decode(signature_b64)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    public = private.public_key()
    data = signing_input.encode()
    best = min(timeit.repeat(check, number=number, repeat=repeat - 1))
    return {
        "bare_us": _per_call_us(lambda: public.verify(der, data, ec.ECDSA(hashes.SHA256())), 2000),
        "dpop_us": best / number * 1e6,
    }


def _jkt(key: DPoPKey) -> str:
    from tollgate.verify.thumbprint import thumbprint

    return thumbprint(key.public_jwk)


if __name__ == "__main__":
    print(measure_verify())
