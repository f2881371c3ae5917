"""The Shared Signals feed on two replicas of one PostgreSQL (and Redis): a session ended
on replica B, or by an admin command, reaches a receiver long-polling replica A within
2 s; a receiver that acknowledges nothing gets the SETs again, from either replica."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from tests.conftest import OTHER_PASSWORD, PASSWORD, bearer
from tests.e2e.redis_server import running_redis
from tests.e2e.server import TOLLGATE, free_port, run_cli, running_process, tollgate_env
from tests.support.postgres import PostgresServer
from tests.support.ssf_receiver import CREDENTIAL_CHANGE, Receiver, revoked_sids
from tollgate.verify import InvalidToken, RevocationFeed, Verifier

WITHIN = 2.0


@dataclass
class Replicas:
    a: str
    b: str
    settings: dict[str, str]
    folder: Path

    def cli(self, *args: str) -> str:
        result = run_cli(self.folder / "cli.db", *args, **self.settings)
        assert result.returncode == 0, result.stderr
        return result.stdout


@pytest.fixture(scope="module")
def replicas(
    tmp_path_factory: pytest.TempPathFactory, postgres: PostgresServer
) -> Iterator[Replicas]:
    folder = tmp_path_factory.mktemp("feed-replicas")
    port_a, port_b = free_port(), free_port()
    a, b = f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"
    with ExitStack() as stack:
        settings = {
            "database_url": postgres.new_database(),
            "redis_url": stack.enter_context(running_redis(folder)),
            # One issuer for both (the SSF endpoints it names are replica A's).
            "issuer": a,
            "refresh_reuse_interval": "0",
            "rate_limit_requests": "10000/minute",
            "rate_limit_join": "1000/minute",
        }
        for port, base in ((port_a, a), (port_b, b)):
            command = [*TOLLGATE, "serve", "--port", str(port), "--log-level", "warning"]
            env = tollgate_env(folder / "unused.db", **settings)
            log = folder / f"{port}.log"
            stack.enter_context(running_process(command, env, f"{base}/health", log))
        yield Replicas(a, b, settings, folder)


def sid(tokens: dict[str, Any]) -> str:
    value: str = jwt.decode(tokens["access_token"], options={"verify_signature": False})["sid"]
    return value


async def receiver_on_a(replicas: Replicas, http: httpx.AsyncClient) -> Receiver:
    name = f"rs{uuid.uuid4().hex[:8]}"
    values = dict(line.split("=", 1) for line in replicas.cli("clients", "create", name).split())
    receiver = Receiver(http, values["client_id"], values["client_secret"], replicas.a)
    await receiver.subscribe()
    return receiver


async def arrives_within(
    receiver: Receiver, end: Callable[[], Awaitable[object]], expected: list[str]
) -> list[dict[str, Any]]:
    """Long-poll replica A while `end` runs; every expected sid within WITHIN seconds."""
    got: list[dict[str, Any]] = []
    waiting = asyncio.create_task(receiver.poll(return_immediately=False))
    await asyncio.sleep(0.1)  # the poll is waiting before the session ends
    await end()
    started = time.monotonic()  # the session has ended (the request or command is done)
    while sorted(set(revoked_sids(got))) != sorted(expected):
        got += await asyncio.wait_for(waiting, WITHIN)
        assert time.monotonic() - started < WITHIN + 0.2, f"took {time.monotonic() - started}"
        if sorted(set(revoked_sids(got))) != sorted(expected):
            waiting = asyncio.create_task(receiver.poll(return_immediately=False))
    return got


async def test_every_way_a_session_ends_reaches_a_receiver_on_the_other_replica(
    replicas: Replicas,
) -> None:
    async with (
        httpx.AsyncClient(base_url=replicas.a) as on_a,
        httpx.AsyncClient(base_url=replicas.b) as on_b,
    ):
        receiver = await receiver_on_a(replicas, on_a)
        user = f"u{uuid.uuid4().hex[:8]}"
        joined = (await on_b.post("/join", json={"username": user, "password": PASSWORD})).json()

        async def login(password: str = PASSWORD) -> dict[str, Any]:
            response = await on_b.post("/login", json={"username": user, "password": password})
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            return body

        # logout
        await arrives_within(
            receiver,
            lambda: on_b.post("/logout", headers=bearer(joined["access_token"])),
            [sid(joined)],
        )
        # DELETE /sessions/{id}
        me, other = await login(), await login()
        await arrives_within(
            receiver,
            lambda: on_b.delete(f"/sessions/{sid(other)}", headers=bearer(me["access_token"])),
            [sid(other)],
        )
        # logout everywhere
        more = await login()
        await arrives_within(
            receiver,
            lambda: on_b.post("/logout", json={"all": True}, headers=bearer(me["access_token"])),
            [sid(me), sid(more)],
        )
        # password change: the other sessions, and credential-change
        me, other = await login(), await login()
        got = await arrives_within(
            receiver,
            lambda: on_b.post(
                "/password",
                json={"current_password": PASSWORD, "new_password": OTHER_PASSWORD},
                headers=bearer(me["access_token"]),
            ),
            [sid(other)],
        )
        got += await receiver.poll()
        assert any(CREDENTIAL_CHANGE in c["events"] for c in got)
        # refresh-token reuse
        reused = await login(OTHER_PASSWORD)
        first = await on_b.post("/refresh", json={"refresh_token": reused["refresh_token"]})
        assert first.status_code == 200
        await arrives_within(
            receiver,
            lambda: on_b.post("/refresh", json={"refresh_token": reused["refresh_token"]}),
            [sid(reused)],
        )
        # /revoke
        revoked = await login(OTHER_PASSWORD)
        await arrives_within(
            receiver,
            lambda: on_b.post("/revoke", data={"token": revoked["refresh_token"]}),
            [sid(revoked)],
        )
        # tollgate sessions revoke (another process altogether)
        admin = await login(OTHER_PASSWORD)
        await arrives_within(
            receiver,
            lambda: asyncio.to_thread(replicas.cli, "sessions", "revoke", sid(admin)),
            [sid(admin)],
        )
        # tollgate users disable
        last = [await login(OTHER_PASSWORD), await login(OTHER_PASSWORD)]
        await arrives_within(
            receiver,
            lambda: asyncio.to_thread(replicas.cli, "users", "disable", user),
            [sid(t) for t in [me, *last]],  # `me` outlived the password change
        )


async def test_a_receiver_that_acknowledges_nothing_gets_them_again(replicas: Replicas) -> None:
    async with (
        httpx.AsyncClient(base_url=replicas.a) as on_a,
        httpx.AsyncClient(base_url=replicas.b) as on_b,
    ):
        receiver = await receiver_on_a(replicas, on_a)
        user = f"u{uuid.uuid4().hex[:8]}"
        joined = (await on_b.post("/join", json={"username": user, "password": PASSWORD})).json()
        await on_b.post("/logout", headers=bearer(joined["access_token"]))
        first = await receiver.poll(acknowledge=False)
        assert revoked_sids(first) == [sid(joined)]
        # The same stream polled through replica B: the same SET again.
        through_b = Receiver(
            on_b, receiver.client_id, receiver.client_secret, replicas.a, receiver.poll_url
        )
        again = await through_b.poll(acknowledge=False)
        assert [c["jti"] for c in again] == [c["jti"] for c in first]
        await through_b.poll()  # acknowledges
        assert await through_b.poll() == []
        assert await receiver.poll(acknowledge=False) == []


def test_a_verifier_following_replica_a_refuses_a_logout_on_replica_b(
    replicas: Replicas,
) -> None:
    values = dict(line.split("=", 1) for line in replicas.cli("clients", "create", "api").split())
    feed = RevocationFeed(values["client_id"], values["client_secret"], long_poll=True)
    verifier = Verifier(replicas.a, revocation_feed=feed)
    try:
        with httpx.Client(base_url=replicas.b) as on_b:
            user = f"u{uuid.uuid4().hex[:8]}"
            gone = on_b.post("/join", json={"username": user, "password": PASSWORD}).json()
            kept = on_b.post("/login", json={"username": user, "password": PASSWORD}).json()
            assert verifier.verify(gone["access_token"]).sid == sid(gone)
            deadline = time.monotonic() + 5
            while feed.stream_id is None:  # its stream exists, then a long poll waits
                assert time.monotonic() < deadline
                time.sleep(0.05)
            time.sleep(0.3)
            assert on_b.post("/logout", headers=bearer(gone["access_token"])).status_code == 204
            ended = time.monotonic()
            while True:
                try:
                    verifier.verify(gone["access_token"])
                except InvalidToken:
                    break
                assert time.monotonic() - ended < WITHIN
                time.sleep(0.02)
            assert verifier.verify(kept["access_token"]).sid == sid(kept)
    finally:
        feed.stop()
