"""`tollgate purge` on a database with data: it deletes exactly what can no longer be used."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import jwt
import pytest

from tests.conftest import PASSWORD, bearer
from tests.e2e.server import run_cli, running_server
from tests.support.postgres import PostgresServer
from tollgate.services.grants import token_id


@dataclass
class Database:
    """The test's own view of the server's database, in plain SQL."""

    file: Path
    url: str
    postgres: PostgresServer | None = None

    def rows(self, sql: str) -> list[str]:
        """The first column of every row, as text."""
        if self.postgres is None:
            with sqlite3.connect(self.file) as db:
                return [str(row[0]) for row in db.execute(sql).fetchall()]
        name = self.url.rsplit("/", 1)[1]
        return self.postgres.psql(sql, database=name).stdout.split()

    def execute(self, sql: str) -> None:
        if self.postgres is None:
            with sqlite3.connect(self.file) as db:
                db.execute(sql)
        else:
            self.rows(sql)

    def days_ago(self, days: int) -> str:
        """A timestamp literal as this database's rows hold them."""
        if self.postgres is not None:
            return f"now() - interval '{days} days'"
        # SQLAlchemy keeps SQLite datetimes as naive UTC text, compared as text.
        moment = datetime.now(UTC) - timedelta(days=days)
        return f"'{moment.replace(tzinfo=None):%Y-%m-%d %H:%M:%S.%f}'"

    def uuid(self, value: str) -> str:
        # SQLite stores UUIDs as 32 hex digits, PostgreSQL as its uuid type.
        return uuid.UUID(value).hex if self.postgres is None else value


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    file = tmp_path / "purge.db"
    if request.param == "sqlite":
        yield Database(file, f"sqlite+aiosqlite:///{file}")
        return
    postgres: PostgresServer = request.getfixturevalue("postgres")
    yield Database(file, postgres.new_database(), postgres)


def claims(token: str) -> dict[str, str]:
    decoded: dict[str, str] = jwt.decode(token, options={"verify_signature": False})
    return decoded


def test_purge_deletes_only_what_cannot_be_used(database: Database) -> None:
    settings = {"database_url": database.url}
    with running_server(database.file, **settings) as base, httpx.Client(base_url=base) as http:
        first = http.post("/join", json={"username": "pat", "password": PASSWORD}).json()
        second = http.post("/refresh", json={"refresh_token": first["refresh_token"]}).json()
        live = http.post("/refresh", json={"refresh_token": second["refresh_token"]}).json()

        def ended_session() -> str:
            pair = http.post("/login", json={"username": "pat", "password": PASSWORD}).json()
            assert http.post("/logout", headers=bearer(pair["access_token"])).status_code == 204
            return claims(pair["access_token"])["sid"]

        recent, old = ended_session(), ended_session()
        # Age rows as time would: two used tokens of the live session expired; one
        # session ended 40 days ago; the sign-up's audit event is 400 days old.
        used = ", ".join(
            f"'{token_id(claims(t['refresh_token'])['jti'])}'" for t in (first, second)
        )
        database.execute(
            f"UPDATE refresh_tokens SET expires_at = {database.days_ago(1)} WHERE id IN ({used})"  # noqa: S608
        )
        database.execute(
            f"UPDATE sessions SET revoked_at = {database.days_ago(40)} "  # noqa: S608
            f"WHERE id = '{database.uuid(old)}'"
        )
        database.execute(
            f"UPDATE audit_events SET at = {database.days_ago(400)} WHERE event = 'joined'"  # noqa: S608
        )
        events_before = len(database.rows("SELECT event FROM audit_events"))

        purged = run_cli(database.file, "purge", **settings)
        assert purged.returncode == 0, purged.stderr
        assert purged.stdout.strip() == (
            "deleted 1 ended session(s), 2 expired refresh token(s), "
            "0 expired authorization code(s), 1 audit event(s), "
            "0 undelivered security event(s), 0 expired mail link(s), "
            "0 expired mfa challenge(s)"
        )

        live_sid = claims(live["access_token"])["sid"]
        assert sorted(database.rows("SELECT id FROM sessions")) == sorted(
            database.uuid(sid) for sid in (live_sid, recent)
        )
        tokens = database.rows("SELECT id FROM refresh_tokens")
        assert token_id(claims(live["refresh_token"])["jti"]) in tokens
        assert len(tokens) == 2  # the live one, and the recently ended session's
        assert token_id(claims(first["refresh_token"])["jti"]) not in tokens
        events = database.rows("SELECT event FROM audit_events")
        assert "joined" not in events
        assert len(events) == events_before - 1

        # What is left still works: the live session refreshes, the recent one is history.
        assert (
            http.post("/refresh", json={"refresh_token": live["refresh_token"]}).status_code == 200
        )
        history = http.get(
            "/sessions", params={"history": "true"}, headers=bearer(live["access_token"])
        ).json()
        ended = {s["id"] for s in history if s["ended_at"] is not None}
        assert ended == {recent}
        assert run_cli(database.file, "users", "list", **settings).stdout.count("pat") == 1
