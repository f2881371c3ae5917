"""Key rotation with the CLI while a real server runs: nobody is logged out."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import httpx
import jwt

from tests.conftest import PASSWORD, bearer
from tests.e2e.server import run_cli, running_server


def kid(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


def test_rotate_then_retire(tmp_path: Path) -> None:
    database = tmp_path / "keys.db"
    settings = {"key_reload_interval": "0.2", "jwks_max_age": "4"}
    with running_server(database, **settings) as base, httpx.Client(base_url=base) as http:
        before = http.post("/join", json={"username": "kay", "password": PASSWORD}).json()
        old_kid = kid(before["access_token"])

        rotated = run_cli(database, "keys", "rotate", **settings)
        assert rotated.returncode == 0, rotated.stderr
        new_kid = rotated.stdout.split()[0]
        time.sleep(0.5)
        # Published at once, signing only after the JWKS max-age (4 s here).
        assert {k["kid"] for k in http.get("/.well-known/jwks.json").json()["keys"]} == {
            old_kid,
            new_kid,
        }
        other = http.post("/login", json={"username": "kay", "password": PASSWORD}).json()
        assert kid(other["access_token"]) == old_kid
        deadline = time.monotonic() + 10
        while kid(other["access_token"]) == old_kid and time.monotonic() < deadline:
            time.sleep(0.5)
            other = http.post("/refresh", json={"refresh_token": other["refresh_token"]}).json()

        after = http.post("/refresh", json={"refresh_token": before["refresh_token"]}).json()
        assert kid(after["access_token"]) == new_kid
        assert kid(after["refresh_token"]) == new_kid
        # The token signed with the previous key still works, here and for JWKS clients.
        assert http.get("/me", headers=bearer(before["access_token"])).status_code == 200
        jwks = jwt.PyJWKClient(f"{base}/.well-known/jwks.json")
        for token in (before["access_token"], after["access_token"]):
            jwt.decode(
                token,
                jwks.get_signing_key_from_jwt(token),
                algorithms=["ES256"],
                audience="tollgate",
            )
        listing = run_cli(database, "keys", "list", **settings).stdout
        assert f"{new_kid}  ES256  signing" in listing
        assert f"{old_kid}  ES256  verifying" in listing

        refused = run_cli(database, "keys", "retire", old_kid, **settings)
        assert refused.returncode == 1
        assert "--force" in refused.stderr
        assert run_cli(database, "keys", "retire", new_kid, **settings).returncode == 1

        retired = run_cli(database, "keys", "retire", old_kid, "--force", **settings)
        assert retired.returncode == 0, retired.stderr
        time.sleep(0.5)
        assert http.get("/me", headers=bearer(before["access_token"])).status_code == 401
        assert http.get("/me", headers=bearer(after["access_token"])).status_code == 200
        keys = http.get("/.well-known/jwks.json").json()["keys"]
        assert [k["kid"] for k in keys] == [new_kid]


def test_hs256_secret_for_a_single_verifier(tmp_path: Path) -> None:
    database = tmp_path / "hs.db"
    with running_server(database, signing_alg="HS256") as base:
        tokens = httpx.post(f"{base}/join", json={"username": "hal", "password": PASSWORD}).json()
        assert httpx.get(f"{base}/.well-known/jwks.json").json() == {"keys": []}
        printed = run_cli(database, "keys", "secret", signing_alg="HS256")
        assert printed.returncode == 0, printed.stderr
        key_id, secret = printed.stdout.split()
        assert key_id == kid(tokens["access_token"])
        raw = base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))
        claims = jwt.decode(
            tokens["access_token"], raw, algorithms=["HS256"], audience="tollgate", issuer=base
        )
        assert claims["username"] == "hal"
    assert run_cli(tmp_path / "es.db", "migrate").returncode == 0
    not_hmac = run_cli(tmp_path / "es.db", "keys", "secret")
    assert not_hmac.returncode == 1
    assert "HS256" in not_hmac.stderr
