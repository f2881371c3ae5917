"""`tollgate keys rotate --now` and the leaked-key routine against a running server."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import jwt

from tests.conftest import PASSWORD, bearer
from tests.e2e.server import run_cli, running_server


def kid(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


def test_rotate_now_signs_at_once_and_a_leaked_key_can_go(tmp_path: Path) -> None:
    database = tmp_path / "now.db"
    # The JWKS max-age stays at its default (300 s): a plain rotation would not sign yet.
    settings = {"key_reload_interval": "0.2"}
    with running_server(database, **settings) as base, httpx.Client(base_url=base) as http:
        leaked = http.post("/join", json={"username": "kim", "password": PASSWORD}).json()
        leaked_kid = kid(leaked["access_token"])

        pending = run_cli(database, "keys", "rotate", **settings)
        assert pending.returncode == 0, pending.stderr
        rotated = run_cli(database, "keys", "rotate", "--now", **settings)
        assert rotated.returncode == 0, rotated.stderr
        new_kid = rotated.stdout.split()[0]

        # Within the reload interval the server signs with the --now key, not the pending one.
        deadline = time.monotonic() + 30
        while True:
            pair = http.post("/login", json={"username": "kim", "password": PASSWORD}).json()
            if kid(pair["access_token"]) != leaked_kid:
                break
            assert time.monotonic() < deadline, "the --now key never started signing"
            time.sleep(0.2)
        assert kid(pair["access_token"]) == new_kid
        assert http.get("/me", headers=bearer(leaked["access_token"])).status_code == 200

        listing = run_cli(database, "keys", "list", **settings).stdout
        assert f"{new_kid}  ES256  signing" in listing
        assert f"{pending.stdout.split()[0]}  ES256  signs from" in listing

        # The leaked key goes: what it signed is refused, the new key's tokens work.
        refused = run_cli(database, "keys", "retire", leaked_kid, **settings)
        assert refused.returncode == 1
        retired = run_cli(database, "keys", "retire", leaked_kid, "--force", **settings)
        assert retired.returncode == 0, retired.stderr
        deadline = time.monotonic() + 30
        while http.get("/me", headers=bearer(leaked["access_token"])).status_code != 401:
            assert time.monotonic() < deadline, "the retired key still verifies"
            time.sleep(0.2)
        stale = http.post("/refresh", json={"refresh_token": leaked["refresh_token"]})
        assert stale.status_code == 401
        assert http.get("/me", headers=bearer(pair["access_token"])).status_code == 200
        keys = {k["kid"] for k in http.get("/.well-known/jwks.json").json()["keys"]}
        assert leaked_kid not in keys
        assert new_kid in keys
