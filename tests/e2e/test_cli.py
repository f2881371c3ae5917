"""The `tollgate` command line, run as a real process against a real database."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import tomllib
from pathlib import Path

import httpx
import pytest

from tests.conftest import OTHER_PASSWORD, PASSWORD, bearer
from tests.e2e.server import TOLLGATE, run_cli, running_server, tollgate_env
from tests.support.postgres import PostgresServer
from tollgate.store.migrate import head_revision

# Every command that reads or changes the database, except `migrate` and `serve`.
ADMIN_COMMANDS = [
    ["users", "list"],
    ["users", "disable", "grace"],
    ["users", "set-password", "grace", "--password-stdin"],
    ["users", "delete", "grace", "--yes"],
    ["sessions", "list"],
    ["keys", "list"],
    ["keys", "rotate"],
    ["clients", "list"],
    ["audit"],
    ["purge"],
]


def tollgate(
    folder: Path, *args: str, env: dict[str, str], stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """`tollgate ARGS` run in `folder`, without a controlling terminal (so prompts read
    standard input, as when scripted)."""
    return subprocess.run(
        [*TOLLGATE, *args],
        cwd=folder,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        start_new_session=True,
    )


def assert_refused(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 1, (result.args, result.stdout, result.stderr)
    assert result.stdout == ""
    message = result.stderr.strip()
    assert "\n" not in message, message  # one line, no traceback
    assert message.startswith("error: ")
    for word in words:
        assert word in message, (word, message)


def test_version_is_the_package_version(tmp_path: Path) -> None:
    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    expected = tomllib.loads(pyproject.read_text())["project"]["version"]
    result = run_cli(tmp_path / "unused.db", "--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"tollgate {expected}\n"
    assert not (tmp_path / "unused.db").exists()  # printed before anything else runs


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


def migrated(tmp_path: Path) -> Path:
    database = tmp_path / "cli.db"
    result = run_cli(database, "migrate")
    assert result.returncode == 0, result.stderr
    return database


def test_user_admin_commands(tmp_path: Path) -> None:
    database = migrated(tmp_path)
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
    database = migrated(tmp_path)
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
    database = migrated(tmp_path)
    missing = run_cli(database, "users", "disable", "nobody")
    assert missing.returncode == 1
    assert "No user named" in missing.stderr
    assert "Traceback" not in missing.stderr
    bad_session = run_cli(database, "sessions", "revoke", "not-a-uuid")
    assert bad_session.returncode == 1
    assert "No such session" in bad_session.stderr


def test_purge(tmp_path: Path) -> None:
    database = migrated(tmp_path)
    assert run_cli(database, "users", "create", "pat", "--password", PASSWORD).returncode == 0
    result = run_cli(database, "purge", "--session-days", "0", "--audit-days", "0")
    assert result.returncode == 0, result.stderr
    assert "deleted 0 ended session(s), 0 expired refresh token(s)," in result.stdout
    assert "audit event(s)" in result.stdout
    assert run_cli(database, "users", "list").stdout.count("pat") == 1  # users are never purged


def test_admin_commands_never_create_a_database(tmp_path: Path) -> None:
    # A new user in another folder, with no TOLLGATE_DATABASE_URL: the default
    # ./tollgate.db does not exist there, and nothing may quietly create it.
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOLLGATE_")}
    for command in ADMIN_COMMANDS:
        result = tollgate(tmp_path, *command, env=env)
        assert_refused(
            result,
            "sqlite+aiosqlite:///./tollgate.db",
            str(tmp_path / "tollgate.db"),
            "tollgate migrate",
        )
        assert list(tmp_path.iterdir()) == [], command
    created = tollgate(tmp_path, "migrate", env=env)
    assert created.returncode == 0, created.stderr
    assert (tmp_path / "tollgate.db").is_file()
    listed = tollgate(tmp_path, "users", "list", env=env)
    assert (listed.returncode, listed.stdout, listed.stderr) == (0, "", "")


def test_admin_commands_refuse_an_unmigrated_sqlite_database(tmp_path: Path) -> None:
    database = tmp_path / "other.db"
    with sqlite3.connect(database) as db:
        db.execute("CREATE TABLE notes (body TEXT)")
    url = f"sqlite+aiosqlite:///{database}"
    for command in ADMIN_COMMANDS:
        assert_refused(run_cli(database, *command), url, "no Tollgate tables", "tollgate migrate")
    with sqlite3.connect(database) as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {"notes"}

    migrated = run_cli(database, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    with sqlite3.connect(database) as db:
        db.execute("UPDATE alembic_version SET version_num = '0002'")
    assert_refused(
        run_cli(database, "users", "list"),
        url,
        f"is at schema revision 0002, not {head_revision()}",
        "run `tollgate migrate` first",
    )
    with sqlite3.connect(database) as db:
        db.execute("UPDATE alembic_version SET version_num = 'f00d'")
    assert_refused(run_cli(database, "users", "list"), url, "f00d", "upgrade Tollgate")


@pytest.mark.parametrize("command", [["users", "list"], ["keys", "list"]])
def test_admin_commands_refuse_an_unmigrated_postgresql_database(
    postgres: PostgresServer, tmp_path: Path, command: list[str]
) -> None:
    url = postgres.new_database()
    # The server trusts every local login, so any password works: it must not be shown.
    with_password = url.replace("postgres@", "postgres:hunter2-secret@")
    result = run_cli(tmp_path / "unused.db", *command, database_url=with_password)
    assert_refused(result, url.replace("postgres@", "postgres:***@"), "no Tollgate tables")
    assert "hunter2" not in result.stderr
    name = url.rsplit("/", 1)[1]
    tables = postgres.psql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", name)
    assert tables.stdout.strip() == "0"
    missing = run_cli(tmp_path / "unused.db", *command, database_url=url + "_missing")
    assert_refused(missing, url + "_missing", "does not exist")


def test_set_password(tmp_path: Path) -> None:
    database = migrated(tmp_path)
    assert run_cli(database, "users", "create", "Grace", "--password", PASSWORD).returncode == 0
    env = tollgate_env(database)
    # The CLI revokes from another process: without the 1 s token cache, at once.
    with (
        running_server(database, auth_cache_seconds="0") as base,
        httpx.Client(base_url=base) as http,
    ):
        pairs = [
            http.post("/login", json={"username": "grace", "password": PASSWORD}).json()
            for _ in range(2)
        ]
        weak = tollgate(
            tmp_path,
            "users",
            "set-password",
            "grace",
            "--password-stdin",
            env=env,
            stdin="password1\n",
        )
        assert_refused(weak, "password is too easy to guess")
        same = tollgate(
            tmp_path,
            "users",
            "set-password",
            "grace",
            "--password-stdin",
            env=env,
            stdin=PASSWORD + "\n",
        )
        assert_refused(same, "must differ from the current one")
        # Nothing changed so far.
        assert http.get("/auth", headers=bearer(pairs[0]["access_token"])).status_code == 200

        result = tollgate(
            tmp_path,
            "users",
            "set-password",
            "GRACE",
            "--password-stdin",
            env=env,
            stdin=OTHER_PASSWORD + "\n",
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout == "password set for GRACE; 2 session(s) ended\n"
        for pair in pairs:
            assert http.get("/auth", headers=bearer(pair["access_token"])).status_code == 401
            again = http.post("/refresh", json={"refresh_token": pair["refresh_token"]})
            assert again.status_code == 401
        old = http.post("/login", json={"username": "grace", "password": PASSWORD})
        assert old.status_code == 401
        new = http.post("/login", json={"username": "grace", "password": OTHER_PASSWORD})
        assert new.status_code == 200

        # Asked twice, hidden, when not given on standard input.
        mismatch = tollgate(
            tmp_path,
            "users",
            "set-password",
            "grace",
            env=env,
            stdin=f"{PASSWORD}-a\n{PASSWORD}-b\n",
        )
        assert mismatch.returncode != 0
        assert PASSWORD not in mismatch.stdout + mismatch.stderr  # never echoed
        prompted = tollgate(
            tmp_path,
            "users",
            "set-password",
            "grace",
            env=env,
            stdin=f"{PASSWORD}\n{PASSWORD}\n",
        )
        assert prompted.returncode == 0, prompted.stderr
        assert "1 session(s) ended" in prompted.stdout
        assert PASSWORD not in prompted.stdout + prompted.stderr
        back = http.post("/login", json={"username": "grace", "password": PASSWORD})
        assert back.status_code == 200
    audit = run_cli(database, "audit", "--user", "grace").stdout
    assert audit.count("password_set_by_admin") == 2

    unknown = tollgate(tmp_path, "users", "set-password", "nobody", env=env)
    assert_refused(unknown, "No user named \u201cnobody\u201d")


def test_delete_user(tmp_path: Path) -> None:
    database = migrated(tmp_path)
    created = run_cli(database, "users", "create", "Grace", "--password", PASSWORD)
    assert created.returncode == 0, created.stderr
    user_id = created.stdout.split()[0]
    env = tollgate_env(database)
    # The CLI revokes from another process: without the 1 s token cache, at once.
    with (
        running_server(database, auth_cache_seconds="0") as base,
        httpx.Client(base_url=base) as http,
    ):
        pair = http.post("/login", json={"username": "grace", "password": PASSWORD}).json()

        kept = tollgate(tmp_path, "users", "delete", "grace", env=env, stdin="n\n")
        assert kept.returncode == 1
        assert "Delete the user grace" in kept.stdout
        assert http.get("/auth", headers=bearer(pair["access_token"])).status_code == 200

        deleted = tollgate(tmp_path, "users", "delete", "grace", env=env, stdin="y\n")
        assert deleted.returncode == 0, deleted.stderr
        assert f"deleted Grace ({user_id})" in deleted.stdout
        assert http.get("/auth", headers=bearer(pair["access_token"])).status_code == 401
        refreshed = http.post("/refresh", json={"refresh_token": pair["refresh_token"]})
        assert refreshed.status_code == 401
        rejoined = http.post("/join", json={"username": "grace", "password": PASSWORD})
        assert rejoined.status_code == 201
        assert rejoined.json()["user"]["id"] != user_id

    assert_refused(run_cli(database, "users", "delete", "nobody", "--yes"), "No user named")
    with sqlite3.connect(database) as db:
        rows = db.execute(
            "SELECT username, ip, user_agent, detail FROM audit_events "
            "WHERE event = 'user_deleted' AND user_id = ?",
            (user_id.replace("-", ""),),
        ).fetchall()
        left = db.execute(
            "SELECT count(*) FROM sessions WHERE user_id = ?", (user_id.replace("-", ""),)
        ).fetchone()[0]
    assert rows == [(None, None, None, "deleted by an operator")]
    assert left == 0


def test_users_create_help_tells_how_the_password_is_given(tmp_path: Path) -> None:
    result = run_cli(tmp_path / "cli.db", "users", "create", "--help")
    assert result.returncode == 0, result.stderr
    help_text = " ".join(result.stdout.replace("\u2502", " ").split())  # without box borders
    # Only the USERNAME argument is required: the password is asked for when not given.
    assert help_text.count("[required]") == 1
    assert "asked for (twice, hidden) when not given" in help_text


def test_users_create_asks_for_the_password(tmp_path: Path) -> None:
    database = migrated(tmp_path)
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
    database = migrated(tmp_path)
    created = run_cli(database, "users", "create", "admin", "--password", PASSWORD)
    assert created.returncode == 0, created.stderr
    look_alike = run_cli(database, "users", "create", "\u0430dmin", "--password", PASSWORD)
    assert look_alike.returncode == 1
    assert look_alike.stderr.strip() == "error: That username is taken."
    spaced = run_cli(database, "users", "create", "new admin", "--password", PASSWORD)
    assert spaced.stderr.strip() == "error: A username cannot contain spaces."


def audit_lines(stderr: str) -> list[dict[str, object]]:
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    return [line for line in lines if isinstance(line, dict) and "event" in line]


def test_admin_commands_write_their_audit_events_to_the_log(tmp_path: Path) -> None:
    """As `serve` does: an operator sees what an admin command did, not only the table."""
    database = migrated(tmp_path)
    created = run_cli(database, "users", "create", "grace", "--password", PASSWORD)
    assert created.returncode == 0, created.stderr
    assert [e["event"] for e in audit_lines(created.stderr)] == ["joined"]
    disabled = run_cli(database, "users", "disable", "grace")
    assert disabled.returncode == 0, disabled.stderr
    (event,) = audit_lines(disabled.stderr)
    assert (event["event"], event["username"]) == ("user_disabled", "grace")
    assert disabled.stdout == "disabled grace\n"  # stdout stays the command's own answer
    rotated = run_cli(database, "keys", "rotate")
    # The access-token key and the ID-token key.
    assert [e["event"] for e in audit_lines(rotated.stderr)] == ["key_rotated", "key_rotated"]
