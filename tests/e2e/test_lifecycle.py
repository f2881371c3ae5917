"""The whole token lifecycle against a real `tollgate serve` process over real HTTP."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import jwt
import pytest

from tests.conftest import OTHER_PASSWORD, PASSWORD, bearer
from tests.e2e.redis_server import running_redis
from tests.e2e.server import running_server


def jti(token: str) -> str:
    return str(jwt.decode(token, options={"verify_signature": False})["jti"])


def test_join_login_me_refresh_replay_logout(server: str) -> None:
    with httpx.Client(base_url=server) as http:
        joined = http.post("/join", json={"username": "Alice", "password": PASSWORD})
        assert joined.status_code == 201
        assert joined.headers["cache-control"] == "no-store"

        login = http.post("/login", json={"username": "alice", "password": PASSWORD})
        assert login.status_code == 200
        pair = login.json()

        me = http.get("/me", headers=bearer(pair["access_token"]))
        assert me.status_code == 200
        assert me.json()["username"] == "Alice"

        refreshed = http.post("/refresh", json={"refresh_token": pair["refresh_token"]})
        assert refreshed.status_code == 200
        current = refreshed.json()
        assert current["refresh_token"] != pair["refresh_token"]
        assert http.get("/me", headers=bearer(current["access_token"])).status_code == 200

        # A replay of the previous token within the interval gets the current pair back.
        replay = http.post("/refresh", json={"refresh_token": pair["refresh_token"]})
        assert replay.status_code == 200
        assert jti(replay.json()["refresh_token"]) == jti(current["refresh_token"])

        # Outside the interval the same replay is theft: the whole session is revoked.
        # Replays keep getting the current pair until the interval (2 s) is over.
        deadline = time.monotonic() + 60
        while (
            stolen := http.post("/refresh", json={"refresh_token": pair["refresh_token"]})
        ).status_code == 200:
            assert jti(stolen.json()["refresh_token"]) == jti(current["refresh_token"])
            assert time.monotonic() < deadline, "the reuse interval never ended"
            time.sleep(0.2)
        assert stolen.status_code == 401
        assert stolen.json()["error"] == "invalid_grant"
        assert (
            http.post("/refresh", json={"refresh_token": current["refresh_token"]}).status_code
            == 401
        )
        assert http.get("/me", headers=bearer(current["access_token"])).status_code == 401
        assert http.get("/auth", headers=bearer(current["access_token"])).status_code == 401

        # A fresh login works; logout ends it.
        fresh = http.post("/login", json={"username": "alice", "password": PASSWORD}).json()
        assert http.get("/auth", headers=bearer(fresh["access_token"])).status_code == 200
        assert http.post("/logout", headers=bearer(fresh["access_token"])).status_code == 204
        assert http.get("/me", headers=bearer(fresh["access_token"])).status_code == 401
        assert (
            http.post("/refresh", json={"refresh_token": fresh["refresh_token"]}).status_code == 401
        )


def test_password_change_revokes_other_sessions(server: str) -> None:
    with httpx.Client(base_url=server) as http:
        laptop = http.post("/join", json={"username": "bob", "password": PASSWORD}).json()
        phone = http.post("/login", json={"username": "bob", "password": PASSWORD}).json()
        changed = http.post(
            "/password",
            json={"current_password": PASSWORD, "new_password": OTHER_PASSWORD},
            headers=bearer(laptop["access_token"]),
        )
        assert changed.status_code == 204
        assert http.get("/me", headers=bearer(laptop["access_token"])).status_code == 200
        assert http.get("/me", headers=bearer(phone["access_token"])).status_code == 401
        assert (
            http.post("/refresh", json={"refresh_token": phone["refresh_token"]}).status_code == 401
        )
        assert (
            http.post("/refresh", json={"refresh_token": laptop["refresh_token"]}).status_code
            == 200
        )


def test_independent_jwks_client_verifies_tokens(server: str) -> None:
    with httpx.Client(base_url=server) as http:
        pair = http.post("/join", json={"username": "carol", "password": PASSWORD}).json()
    jwks = jwt.PyJWKClient(f"{server}/.well-known/jwks.json")
    signing_key = jwks.get_signing_key_from_jwt(pair["access_token"])
    claims = jwt.decode(
        pair["access_token"],
        signing_key,
        algorithms=["ES256"],
        audience="tollgate",
        issuer=server,
        options={"require": ["exp", "iat", "nbf", "sub", "jti"]},
    )
    assert claims["username"] == "carol"
    assert claims["sub"] == pair["user"]["id"]
    assert jwt.get_unverified_header(pair["access_token"])["typ"] == "at+jwt"
    # A refresh token is addressed to the issuer, not to resource servers.
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(pair["refresh_token"], signing_key, algorithms=["ES256"], audience="tollgate")


def test_concurrent_refreshes_of_one_token(server: str, sql: Callable[[str], str]) -> None:
    with httpx.Client(base_url=server) as http:
        pair = http.post("/join", json={"username": "dave", "password": PASSWORD}).json()

    async def hammer() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server, timeout=30) as http:
            return await asyncio.gather(
                *(
                    http.post("/refresh", json={"refresh_token": pair["refresh_token"]})
                    for _ in range(20)
                )
            )

    responses = asyncio.run(hammer())
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 401}, statuses
    assert 200 in statuses
    issued = {jti(r.json()["refresh_token"]) for r in responses if r.status_code == 200}
    assert len(issued) == 1, "every success must hand out the same current token"
    sid = jwt.decode(pair["refresh_token"], options={"verify_signature": False})["sid"]
    # SQLite stores the UUID as 32 hex digits, PostgreSQL natively; sid is a parsed UUID.
    forms = f"'{uuid.UUID(sid)}', '{uuid.UUID(sid).hex}'"
    live = sql(
        "SELECT count(*) FROM refresh_tokens WHERE used_at IS NULL"  # noqa: S608
        f" AND CAST(session_id AS TEXT) IN ({forms})"
    )
    assert live == "1"


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        (
            "POST",
            "/join",
            {"content": b"{oops", "headers": {"Content-Type": "application/json"}},
            422,
        ),
        (
            "POST",
            "/login",
            {"content": b"x" * 70_000, "headers": {"Content-Type": "application/json"}},
            413,
        ),
        ("POST", "/join", {"json": {"username": 5, "password": []}}, 422),
        ("GET", "/me", {"headers": {"Authorization": "Bearer eyJhbGciOiJub25lIn0.e30."}}, 401),
        ("GET", "/nowhere", {}, 404),
        ("POST", "/auth", {"data": {"grant_type": "implicit"}}, 400),
    ],
)
def test_bad_requests_over_real_http(
    server: str, method: str, path: str, kwargs: dict[str, object], status: int
) -> None:
    response = httpx.request(method, f"{server}{path}", **kwargs)  # type: ignore[arg-type]
    assert response.status_code == status
    body = response.json()
    assert set(body) >= {"error", "error_description"}


def test_restart_keeps_keys_tokens_and_revocations(
    tmp_path: Path, backend: tuple[str, Callable[[str], str]]
) -> None:
    database = tmp_path / "restart.db"
    # The default issuer names the port, and the restart gets another free port.
    issuer = "http://auth.example.test"
    with (
        running_server(database, issuer=issuer, database_url=backend[0]) as base,
        httpx.Client(base_url=base) as http,
    ):
        kept = http.post("/join", json={"username": "erin", "password": PASSWORD}).json()
        ended = http.post("/login", json={"username": "erin", "password": PASSWORD}).json()
        assert http.post("/logout", headers=bearer(ended["access_token"])).status_code == 204
        kids = [k["kid"] for k in http.get("/.well-known/jwks.json").json()["keys"]]
    with (
        running_server(database, issuer=issuer, database_url=backend[0]) as base,
        httpx.Client(base_url=base) as http,
    ):
        assert [k["kid"] for k in http.get("/.well-known/jwks.json").json()["keys"]] == kids
        assert http.get("/me", headers=bearer(kept["access_token"])).status_code == 200
        assert http.get("/me", headers=bearer(ended["access_token"])).status_code == 401
        assert (
            http.post("/refresh", json={"refresh_token": kept["refresh_token"]}).status_code == 200
        )


def test_workers_share_keys_and_sessions(
    tmp_path: Path, backend: tuple[str, Callable[[str], str]]
) -> None:
    database = tmp_path / "workers.db"
    with (
        running_redis(tmp_path) as redis_url,
        running_server(
            database, "--workers", "2", database_url=backend[0], redis_url=redis_url
        ) as base,
        httpx.Client(base_url=base) as http,
    ):
        pair = http.post("/join", json={"username": "fay", "password": PASSWORD}).json()
        # New connections land on either worker; every one must accept the token.
        for _ in range(10):
            with httpx.Client(base_url=base) as fresh:
                assert fresh.get("/auth", headers=bearer(pair["access_token"])).status_code == 200
        # One access-token key and one ID-token key, whatever the number of workers.
        kids = [k["kid"] for k in http.get("/.well-known/jwks.json").json()["keys"]]
        assert sorted(kid.startswith("idt-") for kid in kids) == [False, True]
