"""The `tollgate` command line, run as a real process against a real database."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import httpx

from tests.conftest import PASSWORD, bearer
from tests.e2e.server import TOLLGATE, run_cli, running_server, tollgate_env
from tollgate.store.migrate import head_revision


def test_migrate_creates_the_schema(tmp_path: Path) -> None:
    database = tmp_path / "cli.db"
    result = run_cli(database, "migrate")
    assert result.returncode == 0, result.stderr
    assert f"database at revision {head_revision()}" in result.stdout
    with sqlite3.connect(database) as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        mode = db.execute("PRAGMA journal_mode").fetchone()[0]
    assert {
        "users",
        "sessions",
        "refresh_tokens",
        "signing_keys",
        "clients",
        "alembic_version",
    } <= tables
    assert mode == "wal"
    assert run_cli(database, "migrate").returncode == 0  # idempotent


def test_user_admin_commands(tmp_path: Path) -> None:
    database = tmp_path / "cli.db"
    created = run_cli(
        database,
        "users",
        "create",
        "Grace",
        "--password",
        PASSWORD,
        "--email",
        "grace@example.org",
        "--scope",
        "profile admin",
    )
    assert created.returncode == 0, created.stderr
    assert "Grace" in created.stdout
    assert "admin profile" in created.stdout

    weak = run_cli(database, "users", "create", "henry", "--password", "password1")
    assert weak.returncode == 1
    assert "guess" in weak.stderr

    taken = run_cli(database, "users", "create", "GRACE", "--password", PASSWORD)
    assert taken.returncode == 1
    assert "taken" in taken.stderr

    listed = run_cli(database, "users", "list")
    assert listed.returncode == 0
    assert "Grace" in listed.stdout
    assert "active" in listed.stdout

    with running_server(database) as base, httpx.Client(base_url=base) as http:
        pair = http.post("/login", json={"username": "grace", "password": PASSWORD}).json()
        assert pair["scope"] == "admin profile"

        assert run_cli(database, "users", "set-scope", "grace", "profile").returncode == 0
        narrowed = http.post("/refresh", json={"refresh_token": pair["refresh_token"]}).json()
        assert narrowed["scope"] == "profile"

        sessions = run_cli(database, "sessions", "list", "--user", "grace")
        assert sessions.returncode == 0
        assert len(sessions.stdout.strip().splitlines()) == 1

        disabled = run_cli(database, "users", "disable", "grace")
        assert disabled.returncode == 0
        assert http.get("/me", headers=bearer(narrowed["access_token"])).status_code == 401
        refused = http.post("/login", json={"username": "grace", "password": PASSWORD})
        assert refused.status_code == 403
        assert refused.json()["error"] == "account_disabled"
        # Someone without the password does not learn the account is disabled.
        guess = http.post("/login", json={"username": "grace", "password": "wrong-wrong-1"})
        assert guess.status_code == 401

        assert run_cli(database, "users", "enable", "grace").returncode == 0
        again = http.post("/login", json={"username": "grace", "password": PASSWORD})
        assert again.status_code == 200

        session_id = run_cli(database, "sessions", "list").stdout.split()[0]
        revoked = run_cli(database, "sessions", "revoke", session_id)
        assert revoked.returncode == 0, revoked.stderr
        assert http.get("/me", headers=bearer(again.json()["access_token"])).status_code == 401


def test_revoke_all_sessions_of_a_user(tmp_path: Path) -> None:
    database = tmp_path / "cli.db"
    assert run_cli(database, "users", "create", "ivy", "--password", PASSWORD).returncode == 0
    with running_server(database) as base, httpx.Client(base_url=base) as http:
        pairs = [
            http.post("/login", json={"username": "ivy", "password": PASSWORD}).json()
            for _ in range(3)
        ]
        result = run_cli(database, "sessions", "revoke", "--user", "ivy")
        assert result.returncode == 0
        assert "revoked 3 session(s)" in result.stdout
        for pair in pairs:
            assert http.get("/auth", headers=bearer(pair["access_token"])).status_code == 401


def test_cli_errors_are_messages_not_tracebacks(tmp_path: Path) -> None:
    database = tmp_path / "cli.db"
    missing = run_cli(database, "users", "disable", "nobody")
    assert missing.returncode == 1
    assert "No user named" in missing.stderr
    assert "Traceback" not in missing.stderr
    bad_session = run_cli(database, "sessions", "revoke", "not-a-uuid")
    assert bad_session.returncode == 1
    assert "No such session" in bad_session.stderr


def test_purge(tmp_path: Path) -> None:
    database = tmp_path / "cli.db"
    assert run_cli(database, "users", "create", "pat", "--password", PASSWORD).returncode == 0
    result = run_cli(database, "purge", "--session-days", "0", "--audit-days", "0")
    assert result.returncode == 0, result.stderr
    assert "deleted 0 ended session(s), 0 expired refresh token(s)," in result.stdout
    assert "audit event(s)" in result.stdout
    assert run_cli(database, "users", "list").stdout.count("pat") == 1  # users are never purged


def test_users_create_help_tells_how_the_password_is_given(tmp_path: Path) -> None:
    result = run_cli(tmp_path / "cli.db", "users", "create", "--help")
    assert result.returncode == 0, result.stderr
    help_text = " ".join(result.stdout.replace("\u2502", " ").split())  # without box borders
    # Only the USERNAME argument is required: the password is asked for when not given.
    assert help_text.count("[required]") == 1
    assert "asked for (twice, hidden) when not given" in help_text


def test_users_create_asks_for_the_password(tmp_path: Path) -> None:
    database = tmp_path / "cli.db"
    asked = subprocess.run(
        [*TOLLGATE, "users", "create", "prompted"],
        env=tollgate_env(database),
        input=f"{PASSWORD}\n{PASSWORD}\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert asked.returncode == 0, asked.stderr
    assert "prompted" in asked.stdout
    with running_server(database) as base:
        login = httpx.post(f"{base}/login", json={"username": "prompted", "password": PASSWORD})
        assert login.status_code == 200


def test_the_operator_may_take_reserved_names(tmp_path: Path) -> None:
    database = tmp_path / "cli.db"
    created = run_cli(database, "users", "create", "admin", "--password", PASSWORD)
    assert created.returncode == 0, created.stderr
    look_alike = run_cli(database, "users", "create", "\u0430dmin", "--password", PASSWORD)
    assert look_alike.returncode == 1
    assert look_alike.stderr.strip() == "error: That username is taken."
    spaced = run_cli(database, "users", "create", "new admin", "--password", PASSWORD)
    assert spaced.stderr.strip() == "error: A username cannot contain spaces."
