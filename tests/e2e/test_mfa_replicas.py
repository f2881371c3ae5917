"""Second factors across two replicas on one PostgreSQL (no Redis): an mfa_token from one
replica finishes on the other, and a code used on one is refused on the other (the used
codes live in the database every replica shares)."""

from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import pyotp

from tests.conftest import PASSWORD, bearer
from tests.e2e.server import running_server
from tests.support.postgres import PostgresServer


def test_a_code_works_once_across_replicas(tmp_path: Path, postgres: PostgresServer) -> None:
    settings = {"database_url": postgres.new_database(), "issuer": "http://tollgate.test"}
    with ExitStack() as stack:
        a = stack.enter_context(running_server(tmp_path / "a.db", **settings))
        b = stack.enter_context(running_server(tmp_path / "b.db", **settings))
        with httpx.Client(base_url=a) as on_a, httpx.Client(base_url=b) as on_b:
            joined = on_a.post("/join", json={"username": "minsu", "password": PASSWORD})
            auth = bearer(joined.json()["access_token"])
            started = on_b.post("/mfa/totp", json={"password": PASSWORD}, headers=auth)
            totp = pyotp.TOTP(started.json()["secret"])
            confirmed = on_a.post("/mfa/totp/confirm", json={"code": totp.now()}, headers=auth)
            assert confirmed.status_code == 200, confirmed.text

            code = totp.at(time.time() + 30)  # the next step's: unused, within the drift
            first = on_a.post("/login", json={"username": "minsu", "password": PASSWORD})
            assert first.status_code == 403
            done = on_b.post(
                "/login/mfa", json={"mfa_token": first.json()["mfa_token"], "code": code}
            )
            assert done.status_code == 200, done.text

            second = on_b.post("/login", json={"username": "minsu", "password": PASSWORD})
            replay = on_a.post(
                "/login/mfa", json={"mfa_token": second.json()["mfa_token"], "code": code}
            )
            assert replay.status_code == 401
            # The token pair from B works on A, and says how it was earned.
            me = on_a.get("/auth", params={"acr": "2"}, headers=bearer(done.json()["access_token"]))
            assert me.status_code == 200
