"""tollgate.verify with DPoP-bound access tokens (RFC 9449 §7): the verifier and its
ASGI, FastAPI and Flask integrations, with the tests' own proof maker."""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any

import httpx
import jwt
import pytest
from fastapi import Depends, FastAPI
from flask import Flask, g

from tests.support.dpop import ProofKey
from tollgate.verify import Claims, InvalidToken, Verifier
from tollgate.verify import fastapi as verify_fastapi
from tollgate.verify.asgi import TokenMiddleware
from tollgate.verify.dpop import BoundTokenRefused, InvalidDPoPProof
from tollgate.verify.flask import require_token

ISSUER = "https://auth.example.com"
SECRET = b"s" * 64
URL = "http://svc/notes"


def access_token(jkt: str | None = None, scope: str = "notes:read") -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": "tollgate",
        "sub": str(uuid.uuid4()),
        "exp": now + 600,
        "iat": now,
        "nbf": now,
        "jti": str(uuid.uuid4()),
        "scope": scope,
        "username": "minsu",
    }
    if jkt is not None:
        claims["cnf"] = {"jkt": jkt}
    return jwt.encode(claims, SECRET, algorithm="HS256", headers={"typ": "at+jwt", "kid": "k"})


@pytest.fixture
def verifier() -> Verifier:
    return Verifier(ISSUER, hs256_secret=SECRET)


@pytest.fixture
def key() -> ProofKey:
    return ProofKey()


def test_bound_token_with_its_proof(verifier: Verifier, key: ProofKey) -> None:
    token = access_token(key.jkt)
    proof = key.proof("GET", URL, access_token=token)
    claims = verifier.verify_request(f"DPoP {token}", method="GET", url=URL, dpop=[proof])
    assert claims.jkt == key.jkt
    assert claims.username == "minsu"


def test_bound_token_refusals(verifier: Verifier, key: ProofKey) -> None:
    token = access_token(key.jkt)
    # As Bearer, or through verify(): a copied token without its key proves nothing.
    with pytest.raises(BoundTokenRefused) as as_bearer:
        verifier.verify_request(f"Bearer {token}", method="GET", url=URL)
    assert as_bearer.value.headers()["WWW-Authenticate"].startswith('DPoP algs="ES256 EdDSA"')
    with pytest.raises(BoundTokenRefused):
        verifier.verify(token)

    def refused(message: str, **request: Any) -> None:
        request = {"method": "GET", "url": URL, **request}
        with pytest.raises(InvalidDPoPProof, match=message):
            verifier.verify_request(f"DPoP {token}", **request)

    refused("exactly one DPoP proof")
    proof = key.proof("GET", URL, access_token=token)
    refused("exactly one DPoP proof", dpop=[proof, proof])
    refused(
        "not the one the token is bound to", dpop=[ProofKey().proof("GET", URL, access_token=token)]
    )
    refused("does not name this access token", dpop=[key.proof("GET", URL, access_token="x")])
    refused("another URL", dpop=[key.proof("GET", "http://svc/other", access_token=token)])
    refused("another HTTP method", dpop=[key.proof("POST", URL, access_token=token)])
    assert verifier.verify_request(f"DPoP {token}", method="GET", url=URL, dpop=[proof])
    refused("used before", dpop=[proof])


def test_unbound_tokens_stay_bearer(verifier: Verifier, key: ProofKey) -> None:
    token = access_token()
    assert verifier.verify_request(f"Bearer {token}", method="GET", url=URL).jkt is None
    with pytest.raises(InvalidToken, match="not bound"):
        verifier.verify_request(
            f"DPoP {token}", method="GET", url=URL, dpop=[key.proof("GET", URL, access_token=token)]
        )


def test_scopes_are_checked_after_the_binding(verifier: Verifier, key: ProofKey) -> None:
    token = access_token(key.jkt)
    # A stolen bound token learns nothing about its scopes without the key: 401, not 403.
    with pytest.raises(BoundTokenRefused):
        verifier.verify_request(f"Bearer {token}", method="GET", url=URL, scopes=["admin"])


async def notes(scope: dict[str, Any], receive: Any, send: Any) -> None:
    claims = scope["state"]["token_claims"]
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": (claims.jkt or "none").encode()})


async def test_asgi_middleware(verifier: Verifier, key: ProofKey) -> None:
    token = access_token(key.jkt)
    transport = httpx.ASGITransport(app=TokenMiddleware(notes, verifier, required=True))
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as svc:
        proof = key.proof("GET", URL, access_token=token)
        ok = await svc.get(
            "/notes?page=2", headers={"Authorization": f"DPoP {token}", "DPoP": proof}
        )
        assert ok.status_code == 200
        assert ok.text == key.jkt
        again = await svc.get("/notes", headers={"Authorization": f"DPoP {token}", "DPoP": proof})
        assert again.status_code == 401
        assert again.json()["error"] == "invalid_dpop_proof"
        assert again.headers["www-authenticate"].startswith('DPoP algs="ES256 EdDSA", error=')
        bearer = await svc.get("/notes", headers={"Authorization": f"Bearer {token}"})
        assert bearer.status_code == 401
        assert bearer.json()["error"] == "invalid_token"


async def test_fastapi_dependency(verifier: Verifier, key: ProofKey) -> None:
    service = FastAPI()
    verify_fastapi.install(service, verifier)

    @service.post("/notes")
    async def write(
        claims: Annotated[Claims, Depends(verify_fastapi.require_token("notes:read"))],
    ) -> str:
        return claims.jkt or "none"

    token = access_token(key.jkt)
    transport = httpx.ASGITransport(app=service)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as svc:
        proof = key.proof("POST", URL, access_token=token)
        ok = await svc.post("/notes", headers={"Authorization": f"DPoP {token}", "DPoP": proof})
        assert ok.json() == key.jkt
        wrong_method = key.proof("GET", URL, access_token=token)
        refused = await svc.post(
            "/notes", headers={"Authorization": f"DPoP {token}", "DPoP": wrong_method}
        )
        assert refused.status_code == 401
        assert refused.json()["error"] == "invalid_dpop_proof"


def test_flask_decorator(verifier: Verifier, key: ProofKey) -> None:
    app = Flask(__name__)

    @app.get("/notes")
    @require_token(verifier, "notes:read")
    def read() -> str:
        return str(g.token_claims.jkt)

    token = access_token(key.jkt)
    web = app.test_client()
    url = "http://localhost/notes"  # Flask's test client addresses localhost
    proof = key.proof("GET", url, access_token=token)
    ok = web.get("/notes", headers={"Authorization": f"DPoP {token}", "DPoP": proof})
    assert ok.text == key.jkt
    replayed = web.get("/notes", headers={"Authorization": f"DPoP {token}", "DPoP": proof})
    assert replayed.status_code == 401
    assert replayed.json["error"] == "invalid_dpop_proof"
    assert replayed.headers["WWW-Authenticate"].startswith("DPoP ")
