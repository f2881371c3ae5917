"""The audit trail: rows, JSON log lines, `tollgate audit`, and the user's own history."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

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
