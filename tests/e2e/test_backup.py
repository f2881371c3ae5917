"""Backups: SQLite's online backup of a running server, restored, behaves as README says."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx

from tests.conftest import PASSWORD, bearer
from tests.e2e.server import run_cli, running_server


def test_online_backup_and_restore(tmp_path: Path) -> None:
    live, backup = tmp_path / "live.db", tmp_path / "backup.db"
    # The issuer is set, as in production: the restored server listens on another port.
    settings = {"issuer": "http://auth.test"}
    with running_server(live, **settings) as base:
        old = httpx.post(f"{base}/join", json={"username": "bodil", "password": PASSWORD}).json()
        # sqlite3's online backup API, what `sqlite3 live.db ".backup backup.db"` runs,
        # while the server keeps serving (WAL mode).
        with sqlite3.connect(live) as source, sqlite3.connect(backup) as copy:
            source.backup(copy)
        new = httpx.post(f"{base}/refresh", json={"refresh_token": old["refresh_token"]})
        assert new.status_code == 200
        newer = new.json()
    with running_server(backup, **settings) as base:  # restored
        # Sessions are as they were at the backup: the token the client holds now is
        # unknown, and the one it was exchanged for after the backup works again.
        assert (
            httpx.post(
                f"{base}/refresh", json={"refresh_token": newer["refresh_token"]}
            ).status_code
            == 401
        )
        again = httpx.post(f"{base}/refresh", json={"refresh_token": old["refresh_token"]})
        assert again.status_code == 200, again.text
        # Hence, after restoring: end the sessions, so no old token is usable.
        revoked = run_cli(backup, "sessions", "revoke", "--user", "bodil", **settings)
        assert revoked.returncode == 0, revoked.stderr
        refused = httpx.post(
            f"{base}/refresh", json={"refresh_token": again.json()["refresh_token"]}
        )
        assert refused.status_code == 401
        assert httpx.get(f"{base}/me", headers=bearer(old["access_token"])).status_code == 401
        login = httpx.post(f"{base}/login", json={"username": "bodil", "password": PASSWORD})
        assert login.status_code == 200
