"""The Shared Signals feed end to end on real `tollgate serve` processes: nothing lost
across a restart, a verifier following the feed, the board example refusing a
logged-out session's token."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import jwt

from tests.conftest import PASSWORD, bearer
from tests.e2e.server import (
    TOLLGATE,
    free_port,
    run_cli,
    running_process,
    tollgate_env,
)
from tests.support.ssf_receiver import Receiver, revoked_sids
from tollgate.verify import InvalidToken, RevocationFeed, Verifier

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def server_at(database: Path, port: int, **settings: str) -> Iterator[str]:
    """`tollgate serve` on a chosen port (the issuer names it, so it survives restarts)."""
    base = f"http://127.0.0.1:{port}"
    command = [*TOLLGATE, "serve", "--port", str(port), "--log-level", "warning"]
    env = tollgate_env(database, issuer=base, **settings)
    log = database.with_suffix(f".{port}.{time.monotonic_ns()}.log")
    with running_process(command, env, f"{base}/health", log):
        yield base


def new_client(database: Path, name: str, **settings: str) -> tuple[str, str]:
    created = run_cli(database, "clients", "create", name, **settings)
    assert created.returncode == 0, created.stderr
    values = dict(line.split("=", 1) for line in created.stdout.split())
    return values["client_id"], values["client_secret"]


def sid(tokens: dict[str, str]) -> str:
    value: str = jwt.decode(tokens["access_token"], options={"verify_signature": False})["sid"]
    return value


def eventually(check: Callable[[], bool], within: float) -> float:
    """Seconds until `check()` held; fails after `within`."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < within, f"not within {within} s"
        time.sleep(0.05)
    return time.monotonic() - started


def test_a_restart_loses_nothing(tmp_path: Path) -> None:
    database = tmp_path / "tollgate.db"
    port = free_port()
    with server_at(database, port) as base:
        client_id, secret = new_client(database, "board")

        async def subscribe_and_end_sessions() -> tuple[str, list[str]]:
            async with httpx.AsyncClient(base_url=base) as http:
                receiver = Receiver(http, client_id, secret, base)
                await receiver.subscribe()
                ended = []
                join = await http.post("/join", json={"username": "pat", "password": PASSWORD})
                for tokens in [join.json()] + [
                    (
                        await http.post("/login", json={"username": "pat", "password": PASSWORD})
                    ).json()
                    for _ in range(2)
                ]:
                    await http.post("/logout", headers=bearer(tokens["access_token"]))
                    ended.append(sid(tokens))
                # Seen once, not acknowledged.
                assert sorted(revoked_sids(await receiver.poll(acknowledge=False))) == sorted(ended)
                return receiver.poll_url, ended

        poll_url, ended = asyncio.run(subscribe_and_end_sessions())

    with server_at(database, port) as base:

        async def after_restart() -> None:
            async with httpx.AsyncClient(base_url=base) as http:
                receiver = Receiver(http, client_id, secret, base, poll_url=poll_url)
                assert sorted(revoked_sids(await receiver.poll())) == sorted(ended)
                assert await receiver.poll() == []  # acknowledged now

        asyncio.run(after_restart())


def test_a_verifier_following_the_feed_refuses_a_logged_out_session(tmp_path: Path) -> None:
    database = tmp_path / "tollgate.db"
    with server_at(database, free_port()) as base, httpx.Client(base_url=base) as http:
        client_id, secret = new_client(database, "api")
        feed = RevocationFeed(client_id, secret, poll_interval=0.5)
        verifier = Verifier(base, revocation_feed=feed)
        try:
            gone = http.post("/join", json={"username": "pat", "password": PASSWORD}).json()
            kept = http.post("/login", json={"username": "pat", "password": PASSWORD}).json()
            assert verifier.verify(gone["access_token"]).sid == sid(gone)
            eventually(lambda: feed.stream_id is not None, 5)
            assert http.post("/logout", headers=bearer(gone["access_token"])).status_code == 204

            def refused() -> bool:
                try:
                    verifier.verify(gone["access_token"])
                except InvalidToken:
                    return True
                return False

            assert eventually(refused, 3) < 3
            assert verifier.verify(kept["access_token"]).sid == sid(kept)  # others still work
        finally:
            feed.stop()


def test_a_feed_that_cannot_be_reached_never_fails_a_valid_token(tmp_path: Path) -> None:
    database = tmp_path / "tollgate.db"
    with server_at(database, free_port()) as base:
        client_id, secret = new_client(database, "api")
        with httpx.Client(base_url=base) as http:
            tokens = http.post("/join", json={"username": "pat", "password": PASSWORD}).json()
        # Refused by the issuer (a wrong secret): logged and retried, tokens still verify.
        wrong = RevocationFeed(client_id, "wrong-secret", poll_interval=0.2)
        refused = Verifier(base, revocation_feed=wrong)
        feed = RevocationFeed(client_id, secret, poll_interval=0.2)
        verifier = Verifier(base, revocation_feed=feed)
        try:
            eventually(lambda: wrong.failures >= 2, 10)
            assert refused.verify(tokens["access_token"]).sid == sid(tokens)
            assert verifier.verify(tokens["access_token"]).sid == sid(tokens)  # keys fetched
            eventually(lambda: feed.last_success is not None, 5)
        finally:
            wrong.stop()
    try:
        # The issuer is gone now: the feed fails, the token (unexpired, keys cached) holds.
        eventually(lambda: feed.failures >= 2, 10)
        assert verifier.verify(tokens["access_token"]).sid == sid(tokens)
    finally:
        feed.stop()


def test_the_board_refuses_a_logged_out_sessions_token_within_5_seconds(tmp_path: Path) -> None:
    database = tmp_path / "tollgate.db"
    with server_at(database, free_port()) as tollgate, httpx.Client(base_url=tollgate) as auth:
        client_id, secret = new_client(database, "board")
        port = free_port()
        board = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "BOARD_ISSUER": tollgate,
            "BOARD_CLIENT_ID": client_id,
            "BOARD_CLIENT_SECRET": secret,
            "PYTHONPATH": str(ROOT),
        }
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "examples.board.app:create_app",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ]
        with (
            running_process(command, env, f"{board}/posts", tmp_path / "board.log"),
            httpx.Client(base_url=board) as http,
        ):
            alice = auth.post("/join", json={"username": "alice", "password": PASSWORD}).json()
            other = auth.post("/login", json={"username": "alice", "password": PASSWORD}).json()
            bob = auth.post("/join", json={"username": "bob", "password": PASSWORD}).json()
            for tokens in (alice, other, bob):
                posted = http.post(
                    "/posts", json={"text": "hi"}, headers=bearer(tokens["access_token"])
                )
                assert posted.status_code == 201, posted.text
            # Let the board's feed make its stream before the logout.
            eventually(lambda: auth.get("/ssf/streams", auth=(client_id, secret)).json() != [], 5)
            assert auth.post("/logout", headers=bearer(alice["access_token"])).status_code == 204

            def refused() -> bool:
                answer = http.post(
                    "/posts", json={"text": "again"}, headers=bearer(alice["access_token"])
                )
                return answer.status_code == 401

            took = eventually(refused, 5)
            assert took < 5
            for tokens in (other, bob):  # other sessions, of alice too, keep working
                posted = http.post(
                    "/posts", json={"text": "still"}, headers=bearer(tokens["access_token"])
                )
                assert posted.status_code == 201, posted.text


class PushReceiver:
    """A real HTTP endpoint of another service (RFC 8935 §2): answers 503 first, then 202,
    and keeps every SET it was sent."""

    def __init__(self) -> None:
        self.bodies: list[tuple[str, str]] = []  # (content type, SET)
        self.answers = [503]
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                receiver.bodies.append(
                    (self.headers["Content-Type"], self.rfile.read(length).decode())
                )
                status = receiver.answers.pop(0) if receiver.answers else 202
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/ssf/push"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_push_delivery_from_a_running_server_retries_until_accepted(tmp_path: Path) -> None:
    receiver = PushReceiver()
    database = tmp_path / "tollgate.db"
    allowed = receiver.url.removesuffix("push")  # the prefix http://127.0.0.1:PORT/ssf/
    settings = {
        "ssf_push_allowed_urls": allowed,
        "ssf_push_interval": "0.2",
        "ssf_push_first_retry": "0.5",
    }
    try:
        with (
            server_at(database, free_port(), **settings) as base,
            httpx.Client(base_url=base) as http,
        ):
            client_id, secret = new_client(database, "pushed", **settings)
            made = http.post(
                "/ssf/streams",
                json={"delivery": {"method": "urn:ietf:rfc:8935", "endpoint_url": receiver.url}},
                auth=(client_id, secret),
            )
            assert made.status_code == 201, made.text
            refused = http.post(
                "/ssf/streams",
                json={"delivery": {"method": "urn:ietf:rfc:8935", "endpoint_url": f"{base}/x"}},
                auth=(client_id, secret),
            )
            assert refused.status_code == 400
            tokens = http.post("/join", json={"username": "pat", "password": PASSWORD}).json()
            assert http.post("/logout", headers=bearer(tokens["access_token"])).status_code == 204
            eventually(lambda: len(receiver.bodies) >= 2, 10)  # 503, then again: 202
            jwks = {k["kid"]: k for k in http.get("/.well-known/jwks.json").json()["keys"]}
            verified = []
            for content_type, token in receiver.bodies[:2]:
                assert content_type == "application/secevent+jwt"
                jwk = jwks[jwt.get_unverified_header(token)["kid"]]
                verified.append(
                    jwt.decode(
                        token,
                        jwt.PyJWK(jwk).key,
                        algorithms=[jwk["alg"]],
                        audience=client_id,
                        issuer=base,
                    )
                )
            # The same SET sent again (signed anew: ECDSA signatures differ each time).
            assert verified[0] == verified[1]
            assert verified[1]["sub_id"]["session"]["id"] == sid(tokens)
            time.sleep(1)
            assert len(receiver.bodies) == 2  # accepted: not sent again
            metrics = http.get("/metrics").text
            assert "tollgate_ssf_push_failures_total 1.0" in metrics
    finally:
        receiver.close()


def test_purge_drops_events_undelivered_past_the_retention(tmp_path: Path) -> None:
    database = tmp_path / "tollgate.db"
    with server_at(database, free_port()) as base, httpx.Client(base_url=base) as http:
        client_id, secret = new_client(database, "slow")
        made = http.post("/ssf/streams", json={}, auth=(client_id, secret))
        assert made.status_code == 201, made.text
        http.post("/join", json={"username": "pat", "password": PASSWORD})
        for _ in range(2):
            tokens = http.post("/login", json={"username": "pat", "password": PASSWORD}).json()
            http.post("/logout", headers=bearer(tokens["access_token"]))
        with sqlite3.connect(database) as db:
            [(old_jti,)] = db.execute("SELECT jti FROM ssf_events ORDER BY created_at LIMIT 1")
            db.execute(
                "UPDATE ssf_events SET created_at = datetime('now', '-8 days') WHERE jti = ?",
                (old_jti,),
            )
        purged = run_cli(database, "purge")
        assert purged.returncode == 0, purged.stderr
        assert ", 1 undelivered security event(s)," in purged.stdout
        with sqlite3.connect(database) as db:
            left = [jti for (jti,) in db.execute("SELECT jti FROM ssf_events")]
        assert len(left) == 1
        assert old_jti not in left
