"""Two replicas on one PostgreSQL and one Redis, behind a real nginx: one service."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import jwt
import pytest

from tests.conftest import OTHER_PASSWORD, PASSWORD, bearer
from tests.e2e.redis_server import running_redis
from tests.e2e.server import free_port, run_cli, running_server
from tests.support.nginx import example, running_nginx
from tests.support.postgres import PostgresServer
from tollgate.services.grants import token_id

ISSUER = "http://tollgate.test"


@dataclass
class Cluster:
    a: str
    b: str
    lb: str
    database_url: str
    postgres: PostgresServer
    settings: dict[str, str]
    folder: Path

    def sql(self, query: str) -> str:
        return self.postgres.psql(
            query, database=self.database_url.rsplit("/", 1)[1]
        ).stdout.strip()

    def cli(self, *args: str) -> str:
        result = run_cli(self.folder / "cli.db", *args, **self.settings)
        assert result.returncode == 0, result.stderr
        return result.stdout


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, postgres: PostgresServer
) -> Iterator[Cluster]:
    folder = tmp_path_factory.mktemp("replicas")
    database_url = postgres.new_database()
    with ExitStack() as stack:
        redis_url = stack.enter_context(running_redis(folder))
        settings = {
            "database_url": database_url,
            "redis_url": redis_url,
            "issuer": ISSUER,
            "key_reload_interval": "0.5",
            "refresh_reuse_interval": "10",
            "rate_limit_login_failures_account_ip": "3/minute",
            "account_lockout_failures": "4",
            "rate_limit_requests": "10000/minute",
            "rate_limit_join": "1000/minute",
        }
        a = stack.enter_context(running_server(folder / "a.db", **settings))
        b = stack.enter_context(running_server(folder / "b.db", **settings))
        listen = f"127.0.0.1:{free_port()}"
        config = example(
            "tollgate-replicas.conf",
            {
                "127.0.0.1:8000": listen,
                "127.0.0.1:8001": a.removeprefix("http://"),
                "127.0.0.1:8002": b.removeprefix("http://"),
            },
        )
        stack.enter_context(running_nginx(folder, config, listen))
        yield Cluster(a, b, f"http://{listen}", database_url, postgres, settings, folder)


def join(base: str, name: str) -> dict[str, object]:
    response = httpx.post(f"{base}/join", json={"username": name, "password": PASSWORD})
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def test_a_session_moves_freely_between_replicas(cluster: Cluster) -> None:
    join(cluster.a, "alice")
    login = httpx.post(f"{cluster.b}/login", json={"username": "alice", "password": PASSWORD})
    assert login.status_code == 200
    refreshed = httpx.post(
        f"{cluster.a}/refresh", json={"refresh_token": login.json()["refresh_token"]}
    ).json()
    assert (
        httpx.get(f"{cluster.b}/me", headers=bearer(refreshed["access_token"])).status_code == 200
    )
    assert (
        httpx.post(f"{cluster.b}/logout", headers=bearer(refreshed["access_token"])).status_code
        == 204
    )
    refused = httpx.post(f"{cluster.a}/refresh", json={"refresh_token": refreshed["refresh_token"]})
    assert refused.status_code == 401
    assert (
        httpx.get(f"{cluster.a}/auth", headers=bearer(refreshed["access_token"])).status_code == 401
    )


def test_a_key_rotated_through_one_replica_is_everywhere(cluster: Cluster) -> None:
    kid = cluster.cli("keys", "rotate").split()[0]
    deadline = time.monotonic() + 10
    seen: set[str] = set()
    while kid not in seen and time.monotonic() < deadline:
        time.sleep(0.2)
        seen = {k["kid"] for k in httpx.get(f"{cluster.b}/.well-known/jwks.json").json()["keys"]}
    assert kid in seen
    assert kid in {k["kid"] for k in httpx.get(f"{cluster.a}/.well-known/jwks.json").json()["keys"]}


def test_a_lockout_through_one_replica_holds_on_the_other(cluster: Cluster) -> None:
    join(cluster.a, "bruno")
    for _ in range(3):
        wrong = httpx.post(f"{cluster.a}/login", json={"username": "bruno", "password": "x-1"})
        assert wrong.status_code == 401
    elsewhere = httpx.post(f"{cluster.b}/login", json={"username": "bruno", "password": PASSWORD})
    assert elsewhere.status_code == 429


def test_an_account_locked_through_one_replica_is_locked_on_the_other(cluster: Cluster) -> None:
    """The per-account lockout (not the per-address limit): four failures, each from
    another address through replica a, lock the account on replica b too."""

    def login(base: str, ip: str, password: str) -> httpx.Response:
        # The replicas trust X-Forwarded-For from 127.0.0.1, as from a proxy on this host.
        return httpx.post(
            f"{base}/login",
            json={"username": "greta", "password": password},
            headers={"X-Forwarded-For": ip},
        )

    home = httpx.post(
        f"{cluster.a}/join",
        json={"username": "greta", "password": PASSWORD},
        headers={"X-Forwarded-For": "203.0.113.50"},
    )
    assert home.status_code == 201
    for i in range(4):  # one failure per address: no per-address limit is reached
        assert login(cluster.a, f"192.0.2.{i + 1}", "wrong-wrong-1").status_code == 401
    locked = login(cluster.b, "192.0.2.99", PASSWORD)  # even the right password
    assert locked.status_code == 429, locked.text
    assert login(cluster.b, "203.0.113.50", PASSWORD).status_code == 200  # home still may
    locks = cluster.sql(
        "SELECT count(*) FROM audit_events WHERE event = 'account_locked' AND username = 'greta'"
    )
    assert locks == "1"


def test_fifty_parallel_refreshes_over_both_replicas(cluster: Cluster) -> None:
    pair = join(cluster.a, "carla")
    token = str(pair["refresh_token"])

    async def storm() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=30) as http:
            return await asyncio.gather(
                *(
                    http.post(
                        f"{(cluster.a, cluster.b)[i % 2]}/refresh", json={"refresh_token": token}
                    )
                    for i in range(50)
                )
            )

    responses = asyncio.run(storm())
    statuses = [r.status_code for r in responses]
    # One request rotates the token; the 49 others are replays of it within the reuse
    # interval (10 s), which get that same new pair: every answer is a 200.
    assert statuses == [200] * 50, statuses
    issued = {
        jwt.decode(r.json()["refresh_token"], options={"verify_signature": False})["jti"]
        for r in responses
    }
    assert len(issued) == 1, issued  # exactly one lineage
    (child,) = issued
    sid = jwt.decode(token, options={"verify_signature": False})["sid"]
    live = cluster.sql(
        f"SELECT id FROM refresh_tokens WHERE session_id = '{sid}' "  # noqa: S608
        "AND used_at IS NULL"
    )
    assert live.split() == [token_id(child)]  # and the one live row is that child
    # The lineage goes on: the child refreshes on either replica.
    onward = httpx.post(
        f"{cluster.b}/refresh", json={"refresh_token": responses[0].json()["refresh_token"]}
    )
    assert onward.status_code == 200, onward.text


def test_twenty_parallel_signups_in_different_case(cluster: Cluster) -> None:
    names = [("dora", "Dora", "DORA", "dOrA", "DorA")[i % 5] for i in range(20)]

    async def rush() -> list[int]:
        async with httpx.AsyncClient(timeout=30) as http:
            responses = await asyncio.gather(
                *(
                    http.post(
                        f"{(cluster.a, cluster.b)[i % 2]}/join",
                        json={"username": name, "password": PASSWORD},
                    )
                    for i, name in enumerate(names)
                )
            )
        return [r.status_code for r in responses]

    statuses = asyncio.run(rush())
    assert statuses.count(201) == 1
    assert statuses.count(409) == 19
    assert cluster.sql("SELECT count(*) FROM users WHERE username_key = 'dora'") == "1"


def test_password_change_racing_refreshes(cluster: Cluster) -> None:
    keeper = join(cluster.a, "erik")
    other = httpx.post(f"{cluster.b}/login", json={"username": "erik", "password": PASSWORD}).json()

    async def race() -> list[str]:
        async with httpx.AsyncClient(timeout=30) as http:
            tokens = [other["refresh_token"]]

            async def keep_refreshing() -> None:
                for i in range(20):
                    response = await http.post(
                        f"{(cluster.a, cluster.b)[i % 2]}/refresh",
                        json={"refresh_token": tokens[-1]},
                    )
                    if response.status_code != 200:
                        return
                    tokens.append(response.json()["refresh_token"])

            change = http.post(
                f"{cluster.a}/password",
                json={"current_password": PASSWORD, "new_password": OTHER_PASSWORD},
                headers=bearer(str(keeper["access_token"])),
            )
            results = await asyncio.gather(keep_refreshing(), change)
            assert results[1].status_code == 204
            return tokens

    tokens = asyncio.run(race())
    # Whatever interleaving happened, the other session is over, and only it.
    sid = jwt.decode(tokens[-1], options={"verify_signature": False})["sid"]
    assert cluster.sql(f"SELECT revoked_reason FROM sessions WHERE id = '{sid}'") == (  # noqa: S608
        "password_changed"
    )
    for base in (cluster.a, cluster.b):
        assert httpx.post(f"{base}/refresh", json={"refresh_token": tokens[-1]}).status_code == 401
    assert (
        httpx.get(f"{cluster.b}/me", headers=bearer(str(keeper["access_token"]))).status_code == 200
    )


def answered(base: str) -> float:
    """How many requests this replica has answered to date (its own /metrics)."""
    prefix = "tollgate_http_request_duration_seconds_count{"
    lines = httpx.get(f"{base}/metrics").text.splitlines()
    return sum(float(line.rsplit(" ", 1)[1]) for line in lines if line.startswith(prefix))


def test_through_the_load_balancer(cluster: Cluster) -> None:
    before = [answered(cluster.a), answered(cluster.b)]
    with httpx.Client(base_url=cluster.lb) as http:
        pair = http.post("/join", json={"username": "fiona", "password": PASSWORD}).json()
        for _ in range(6):
            assert http.get("/me", headers=bearer(pair["access_token"])).status_code == 200
            pair = http.post("/refresh", json={"refresh_token": pair["refresh_token"]}).json()
        assert http.post("/logout", headers=bearer(pair["access_token"])).status_code == 204
        assert http.get("/auth", headers=bearer(pair["access_token"])).status_code == 401
    after = [answered(cluster.a), answered(cluster.b)]
    # 15 through nginx, plus each replica's "before" scrape (a scrape counts itself later).
    served = [a - b for a, b in zip(after, before, strict=True)]
    assert sum(served) == 15 + 2
    assert all(count >= 5 for count in served), served  # nginx spread them over both
