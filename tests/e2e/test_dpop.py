"""DPoP against real `tollgate serve` processes: tollgate.client binding its tokens by
default, nonces, and the proof replay cache shared by replicas (database or Redis)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from tests.conftest import PASSWORD
from tests.e2e.redis_server import running_redis
from tests.e2e.server import running_server
from tests.support.dpop import ProofKey
from tests.support.postgres import PostgresServer
from tollgate.client import TollgateAuth
from tollgate.verify import Verifier
from tollgate.verify.dpop import BoundTokenRefused

ISSUER = "http://tollgate.test"


def join(base: str, name: str) -> None:
    response = httpx.post(f"{base}/join", json={"username": name, "password": PASSWORD})
    assert response.status_code == 201, response.text


def claims(token: str) -> dict[str, Any]:
    decoded: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return decoded


def test_the_client_binds_its_tokens_and_stays_logged_in(tmp_path: Path) -> None:
    with running_server(tmp_path / "tollgate.db", access_ttl="2") as base:
        join(base, "minsu")
        seen: list[dict[str, Any]] = []
        auth = TollgateAuth(base, "minsu", PASSWORD, on_tokens=seen.append)
        with httpx.Client(base_url=base, auth=auth) as http:
            while len(seen) < 3:  # the login and two refreshes, each bound
                response = http.get("/me")
                assert response.status_code == 200, response.text
        assert {t["token_type"] for t in seen} == {"DPoP"}
        assert auth.dpop_key is not None
        jkts = {claims(t["access_token"])["cnf"]["jkt"] for t in seen}
        assert len(jkts) == 1
        # A copy of the token, without the client's key, is refused.
        stolen = httpx.get(
            f"{base}/me", headers={"Authorization": f"Bearer {seen[-1]['access_token']}"}
        )
        assert stolen.status_code == 401
        stolen_refresh = httpx.post(f"{base}/refresh", json={"refresh_token": auth.refresh_token})
        assert stolen_refresh.status_code == 401
        assert stolen_refresh.json()["error"] == "invalid_dpop_proof"
        # ... and the client goes on, its session untouched.
        with httpx.Client(base_url=base, auth=auth) as http:
            assert http.get("/sessions").status_code == 200
        # A service verifying on its own checks the binding too.
        verifier = Verifier(base)
        with pytest.raises(BoundTokenRefused):
            verifier.verify(seen[-1]["access_token"])


def test_the_client_retries_once_for_a_nonce(tmp_path: Path) -> None:
    with running_server(tmp_path / "tollgate.db", dpop_nonce="true") as base:
        join(base, "jun")
        statuses: list[tuple[str, int]] = []

        def record(response: httpx.Response) -> None:
            statuses.append((response.request.url.path, response.status_code))

        auth = TollgateAuth(base, "jun", PASSWORD)
        with httpx.Client(base_url=base, auth=auth, event_hooks={"response": [record]}) as http:
            assert http.get("/me").status_code == 200
            assert http.get("/me").status_code == 200
        # One use_dpop_nonce at the token endpoint, then the nonce is known: never more.
        assert statuses[:2] == [("/auth", 400), ("/auth", 200)]
        assert statuses[2:] == [("/me", 200), ("/me", 200)]


@pytest.fixture(params=["database", "redis"])
def replicas(
    request: pytest.FixtureRequest, tmp_path: Path, postgres: PostgresServer
) -> Iterator[tuple[str, str]]:
    settings = {"database_url": postgres.new_database(), "issuer": ISSUER}
    with ExitStack() as stack:
        if request.param == "redis":
            settings["redis_url"] = stack.enter_context(running_redis(tmp_path))
        a = stack.enter_context(running_server(tmp_path / "a.db", **settings))
        b = stack.enter_context(running_server(tmp_path / "b.db", **settings))
        yield a, b


def test_a_proof_works_once_across_replicas(replicas: tuple[str, str]) -> None:
    a, b = replicas
    join(a, "minsu")
    key = ProofKey()
    login = httpx.post(
        f"{a}/login",
        json={"username": "minsu", "password": PASSWORD},
        headers={"DPoP": key.proof("POST", f"{ISSUER}/login")},
    )
    access, refresh = login.json()["access_token"], login.json()["refresh_token"]
    for _ in range(5):
        proof = key.proof("GET", f"{ISSUER}/me", access_token=access)
        headers = {"Authorization": f"DPoP {access}", "DPoP": proof}
        assert httpx.get(f"{a}/me", headers=headers).status_code == 200
        replayed = httpx.get(f"{b}/me", headers=headers)
        assert replayed.status_code == 401
        assert replayed.json()["error"] == "invalid_dpop_proof"
    # A bound refresh at the other replica, with the key: fine; a thief's: refused.
    thief = ProofKey().proof("POST", f"{ISSUER}/refresh")
    assert (
        httpx.post(
            f"{b}/refresh", json={"refresh_token": refresh}, headers={"DPoP": thief}
        ).status_code
        == 401
    )
    rotated = httpx.post(
        f"{b}/refresh",
        json={"refresh_token": refresh},
        headers={"DPoP": key.proof("POST", f"{ISSUER}/refresh")},
    )
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["token_type"] == "DPoP"


@pytest.mark.parametrize("redis", [False, True])
def test_a_proof_works_once_across_two_workers(tmp_path: Path, redis: bool) -> None:
    with ExitStack() as stack:
        settings = {"rate_limit_enabled": "false"}  # two workers without Redis: load tests
        if redis:
            settings = {"redis_url": stack.enter_context(running_redis(tmp_path))}
        base = stack.enter_context(
            running_server(tmp_path / "tollgate.db", "--workers", "2", **settings)
        )
        join(base, "minsu")
        key = ProofKey()
        login = httpx.post(
            f"{base}/login",
            json={"username": "minsu", "password": PASSWORD},
            headers={"DPoP": key.proof("POST", f"{base}/login")},
        )
        access = login.json()["access_token"]
        for _ in range(4):
            headers = {
                "Authorization": f"DPoP {access}",
                "DPoP": key.proof("GET", f"{base}/me", access_token=access),
            }
            # Each on a new connection, so the two workers both get some of them.
            statuses = [httpx.get(f"{base}/me", headers=headers).status_code for _ in range(6)]
            assert statuses == [200] + [401] * 5
