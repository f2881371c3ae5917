"""Faults: the database goes away and comes back; a replica is killed mid-load."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import PASSWORD, bearer
from tests.e2e.server import running_server, tollgate_process
from tests.support.postgres import PostgresServer


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this test's own, since the test stops it."""
    server = PostgresServer()
    server.start()
    yield server
    server.remove()


def wait_for(check: object, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.2)


def test_database_outage_and_recovery(tmp_path: Path, own_postgres: PostgresServer) -> None:
    url = own_postgres.new_database()
    with (
        running_server(tmp_path / "outage.db", database_url=url, key_reload_interval="0.5") as base,
        httpx.Client(base_url=base, timeout=30) as http,
    ):
        pair = http.post("/join", json={"username": "minsu", "password": PASSWORD}).json()
        own_postgres.stop()

        requests = [
            ("GET", "/health", {}),
            ("GET", "/ready", {}),
            ("POST", "/login", {"json": {"username": "minsu", "password": PASSWORD}}),
            ("POST", "/join", {"json": {"username": "ghost", "password": PASSWORD}}),
            ("POST", "/refresh", {"json": {"refresh_token": pair["refresh_token"]}}),
            ("GET", "/me", {"headers": bearer(pair["access_token"])}),
            ("GET", "/auth", {"headers": bearer(pair["access_token"])}),
            ("GET", "/sessions", {"headers": bearer(pair["access_token"])}),
        ]
        for method, path, kwargs in requests:
            response = http.request(method, path, **kwargs)  # type: ignore[arg-type]
            assert response.status_code == 503, (path, response.status_code, response.text)
            assert response.json()["error"] == "temporarily_unavailable"
            assert response.headers["retry-after"] == "5"
        # The public keys stay available from memory, also once a reload has failed
        # (reloads are due every 0.5 s here; the server logs each failed one), so other
        # services keep verifying tokens.
        port = base.rsplit(":", 1)[1]
        log = (tmp_path / "outage.db").with_suffix(f".{port}.log")

        def keys_served_after_a_failed_reload() -> bool:
            assert http.get("/.well-known/jwks.json").json()["keys"]
            return "could not reload signing keys" in log.read_text()

        wait_for(keys_served_after_a_failed_reload)

        own_postgres.start()
        wait_for(lambda: http.get("/health").status_code == 200)
        assert http.get("/me", headers=bearer(pair["access_token"])).status_code == 200
        rotated = http.post("/refresh", json={"refresh_token": pair["refresh_token"]})
        assert rotated.status_code == 200
        # The sign-up attempted during the outage left nothing behind.
        ghost = http.post("/login", json={"username": "ghost", "password": PASSWORD})
        assert ghost.status_code == 401
        assert (
            http.post("/join", json={"username": "ghost", "password": PASSWORD}).status_code == 201
        )


def test_replica_killed_mid_load(tmp_path: Path, own_postgres: PostgresServer) -> None:
    url = own_postgres.new_database()
    name = url.rsplit("/", 1)[1]
    settings = {
        "database_url": url,
        "issuer": "http://tollgate.test",
        "refresh_reuse_interval": "60",
        "rate_limit_enabled": "false",
    }
    with running_server(tmp_path / "b.db", **settings) as b:
        sessions: list[dict[str, str]] = []
        httpx.post(f"{b}/join", json={"username": "load", "password": PASSWORD})
        for _ in range(12):
            sessions.append(
                httpx.post(f"{b}/login", json={"username": "load", "password": PASSWORD}).json()
            )
        joined: list[str] = []
        current = {i: s["refresh_token"] for i, s in enumerate(sessions)}
        with tollgate_process(tmp_path / "a.db", **settings) as (a, victim):
            stop = threading.Event()

            def sign_ups(worker: int) -> None:
                with httpx.Client(base_url=a, timeout=10) as http:
                    n = 0
                    while not stop.is_set():
                        name_ = f"w{worker}n{n}"
                        n += 1
                        try:
                            r = http.post("/join", json={"username": name_, "password": PASSWORD})
                        except httpx.HTTPError:
                            return
                        if r.status_code == 201:
                            joined.append(name_)

            rotations: list[int] = []

            def refreshes(owned: list[int]) -> None:
                with httpx.Client(base_url=a, timeout=10) as http:
                    while not stop.is_set():
                        for i in owned:
                            try:
                                r = http.post("/refresh", json={"refresh_token": current[i]})
                            except httpx.HTTPError:
                                return  # the answer is lost: the client keeps the old token
                            assert r.status_code == 200, r.text
                            current[i] = r.json()["refresh_token"]
                            rotations.append(i)

            threads = [threading.Thread(target=sign_ups, args=(w,)) for w in range(3)]
            threads += [
                threading.Thread(target=refreshes, args=([k, k + 4, k + 8],)) for k in range(4)
            ]
            for thread in threads:
                thread.start()
            # Kill it under load: once sign-ups and refreshes are both well under way.
            wait_for(lambda: len(joined) >= 3 and len(rotations) >= 24, seconds=60)
            victim.kill()  # SIGKILL: no shutdown, no cleanup
            victim.wait()
            stop.set()
            for thread in threads:
                thread.join()

        assert joined, "no sign-up finished before the kill"
        # Every sign-up that was answered 201 is in the database.
        stored = set(own_postgres.psql("SELECT username FROM users", database=name).stdout.split())
        assert set(joined) <= stored
        for user in joined[-5:]:
            assert (
                httpx.post(f"{b}/login", json={"username": user, "password": PASSWORD}).status_code
                == 200
            )
        # For every session the token the client holds works on the surviving replica.
        for i, token in current.items():
            response = httpx.post(f"{b}/refresh", json={"refresh_token": token})
            assert response.status_code == 200, (i, response.text)
        live = own_postgres.psql(
            "SELECT max(n) FROM (SELECT count(*) AS n FROM refresh_tokens "
            "WHERE used_at IS NULL GROUP BY session_id) AS per_session",
            database=name,
        ).stdout.strip()
        assert live == "1"
        # A restarted replica verifies the tokens issued before the crash.
        with running_server(tmp_path / "a2.db", **settings) as again:
            me = httpx.get(f"{again}/me", headers=bearer(sessions[0]["access_token"]))
            assert me.status_code == 200
