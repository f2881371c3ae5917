"""A burst of forged tokens against a real server over real HTTP: 401s, no 5xx, still up."""

from __future__ import annotations

from pathlib import Path

import httpx
import jwt
from cryptography.hazmat.primitives import serialization

from tests.conftest import PASSWORD, bearer
from tests.e2e.server import running_server
from tests.security.forge import hs256, parts, raw


def test_burst_over_real_http(tmp_path: Path) -> None:
    with running_server(tmp_path / "t.db") as base, httpx.Client(base_url=base) as http:
        tokens = http.post("/join", json={"username": "target", "password": PASSWORD}).json()
        header, claims, signature = parts(tokens["access_token"])
        published = http.get("/.well-known/jwks.json").json()["keys"]
        # The key that signed the token (the ID-token key is published beside it).
        jwk = next(k for k in published if k["kid"] == header["kid"])
        pem = jwt.PyJWK(jwk).key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        admin = {**claims, "scope": "profile admin"}
        attacks = [
            raw({**header, "alg": "none"}, admin, ""),
            raw(header, admin, signature),
            hs256({**header, "alg": "HS256"}, admin, pem),
            tokens["refresh_token"],
            "eyJhbGciOiJub25lIn0.e30.",
            "a" * 50_000,
        ]
        for _ in range(5):
            for token in attacks:
                for path in ("/auth", "/me"):
                    response = http.get(path, headers=bearer(token))
                    assert response.status_code == 401, (token[:40], response.status_code)
        # A header far past any sane size is refused by the HTTP layer or by us, never a 5xx.
        huge = http.get("/me", headers=bearer("x" * 1_000_000))
        assert huge.status_code in (400, 401, 413, 431)
        assert http.get("/auth", headers=bearer(tokens["access_token"])).status_code == 200
        refresh = http.post(
            "/refresh",
            json={
                "refresh_token": raw(
                    {**parts(tokens["refresh_token"])[0], "alg": "none"},
                    parts(tokens["refresh_token"])[1],
                    "",
                )
            },
        )
        assert refresh.status_code == 401
