"""The audit trail: rows, JSON log lines, `tollgate audit`, and the user's own history."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import jwt

from tests.conftest import OTHER_PASSWORD, PASSWORD, bearer
from tests.e2e.server import run_cli, running_server


def test_security_events_are_recorded(tmp_path: Path) -> None:
    database = tmp_path / "audit.db"
    with (
        running_server(database, refresh_reuse_interval="0") as base,
        httpx.Client(base_url=base, headers={"User-Agent": "audit-test/1.0"}) as http,
    ):
        http.post("/join", json={"username": "minsu", "password": PASSWORD})
        assert (
            http.post("/login", json={"username": "minsu", "password": "nope-1"}).status_code == 401
        )
        stolen = http.post("/login", json={"username": "minsu", "password": PASSWORD}).json()
        http.post("/refresh", json={"refresh_token": stolen["refresh_token"]})
        reused = http.post("/refresh", json={"refresh_token": stolen["refresh_token"]})
        assert reused.status_code == 401

        fresh = http.post("/login", json={"username": "minsu", "password": PASSWORD}).json()
        history = http.get(
            "/sessions", params={"history": "true"}, headers=bearer(fresh["access_token"])
        ).json()
        reasons = {s["end_reason"] for s in history}
        assert "refresh_token_reused" in reasons
        live_only = http.get("/sessions", headers=bearer(fresh["access_token"])).json()
        assert all(s["ended_at"] is None for s in live_only)

        http.post(
            "/password",
            json={"current_password": PASSWORD, "new_password": OTHER_PASSWORD},
            headers=bearer(fresh["access_token"]),
        )
        http.post("/logout", headers=bearer(fresh["access_token"]))
        port = base.rsplit(":", 1)[1]
        log = database.with_suffix(f".{port}.log")

    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    events = [line for line in lines if "event" in line]  # the others are access lines
    kinds = [e["event"] for e in events]
    for kind in (
        "joined",
        "login_failed",
        "login_succeeded",
        "refresh_reuse_detected",
        "password_changed",
        "logout",
    ):
        assert kind in kinds, kinds
    reuse = next(e for e in events if e["event"] == "refresh_reuse_detected")
    assert reuse["ip"] == "127.0.0.1"
    assert reuse["user_agent"] == "audit-test/1.0"
    assert reuse["user_id"]
    assert reuse["session_id"]

    listed = run_cli(database, "audit", "--user", "minsu")
    assert listed.returncode == 0, listed.stderr
    for kind in ("joined", "login_failed", "refresh_reuse_detected", "password_changed", "logout"):
        assert kind in listed.stdout
    assert "audit-test/1.0" in listed.stdout
    recent = run_cli(database, "audit", "--since", "1h")
    assert recent.stdout.count("\n") >= 6
    assert run_cli(database, "audit", "--since", "2999-01-01").stdout == ""
    bad = run_cli(database, "audit", "--since", "yesterday-ish")
    assert bad.returncode == 2


def test_lockouts_revocations_accounts_and_keys_are_recorded(tmp_path: Path) -> None:
    database = tmp_path / "admin.db"
    settings = {"account_lockout_failures": "2"}
    with running_server(database, **settings) as base, httpx.Client(base_url=base) as http:

        def login() -> dict[str, str]:
            response = http.post("/login", json={"username": "alice", "password": PASSWORD})
            assert response.status_code == 200, response.text
            pair: dict[str, str] = response.json()
            return pair

        def sid(pair: dict[str, str]) -> str:
            return str(jwt.decode(pair["access_token"], options={"verify_signature": False})["sid"])

        home = http.post("/join", json={"username": "alice", "password": PASSWORD}).json()
        for ip in ("192.0.2.1", "192.0.2.2"):  # two failures from elsewhere lock the account
            failed = http.post(
                "/login",
                json={"username": "alice", "password": "wrong-wrong-1"},
                headers={"X-Forwarded-For": ip},
            )
            assert failed.status_code == 401
        # Three sessions, each ended another way: by the user, by RFC 7009, by the admin.
        by_user, by_token, by_admin = login(), login(), login()  # from home: still allowed
        ended = http.delete(f"/sessions/{sid(by_user)}", headers=bearer(home["access_token"]))
        assert ended.status_code == 204
        assert http.post("/revoke", data={"token": by_token["refresh_token"]}).status_code == 200
        assert run_cli(database, "sessions", "revoke", sid(by_admin), **settings).returncode == 0
        assert run_cli(database, "users", "disable", "alice", **settings).returncode == 0
        refused = http.post("/login", json={"username": "alice", "password": PASSWORD})
        assert refused.status_code == 403
        assert run_cli(database, "users", "enable", "alice", **settings).returncode == 0
        old_kid = jwt.get_unverified_header(home["access_token"])["kid"]
        rotated = run_cli(database, "keys", "rotate", "--now", **settings)
        assert rotated.returncode == 0, rotated.stderr
        retired = run_cli(database, "keys", "retire", old_kid, "--force", **settings)
        assert retired.returncode == 0, retired.stderr
        port = base.rsplit(":", 1)[1]
        log = database.with_suffix(f".{port}.log")

    # What the server did is in its log, one JSON line each.
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    logged = {line["event"]: line for line in lines if "event" in line}
    assert logged["account_locked"]["username"] == "alice"
    assert logged["account_locked"]["ip"] == "192.0.2.2"
    assert logged["revoked_by_user"]["session_id"] == sid(by_user)
    assert logged["revoked"]["session_id"] == sid(by_token)
    assert logged["login_refused_disabled"]["username"] == "alice"
    # Everything, including what the admin commands did, is in the table.
    listed = run_cli(database, "audit", **settings)
    assert listed.returncode == 0, listed.stderr
    rows = [line.split()[2] for line in listed.stdout.splitlines()]
    for kind in (
        "account_locked",
        "revoked_by_user",
        "revoked",
        "revoked_by_admin",
        "user_disabled",
        "login_refused_disabled",
        "user_enabled",
        "key_retired",
    ):
        assert rows.count(kind) == 1, (kind, rows)
    # One rotation made two keys: the access-token key and the ID-token key.
    assert rows.count("key_rotated") == 2, rows
    assert f"session={sid(by_admin)}" in listed.stdout
    assert f"({old_kid} (forced))" in listed.stdout
