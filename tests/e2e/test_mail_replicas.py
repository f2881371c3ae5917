"""Two replicas on one database share one outbox: every mail is sent once, whichever
replica took the request (the claim's lease), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.conftest import PASSWORD
from tests.e2e.server import running_server
from tests.support.postgres import PostgresServer
from tests.support.smtp import SmtpSink

USERS = 12


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_each_mail_is_sent_once_by_one_of_two_replicas(
    tmp_path: Path, smtp: SmtpSink, engine: str, request: pytest.FixtureRequest
) -> None:
    database = tmp_path / "tollgate.db"
    settings = {"smtp_url": smtp.url, "mail_interval": "0.05"}
    if engine == "postgresql":
        postgres: PostgresServer = request.getfixturevalue("postgres")
        settings["database_url"] = postgres.new_database()
    with running_server(database, **settings) as one, running_server(database, **settings) as two:
        for i in range(USERS):
            base = (one, two)[i % 2]
            answer = httpx.post(
                f"{base}/join",
                json={
                    "username": f"user{i}",
                    "password": PASSWORD,
                    "email": f"user{i}@example.org",
                },
            )
            assert answer.status_code == 201, answer.text
        mails = smtp.wait(count=USERS)
    recipients = Counter(str(m["To"]) for m in smtp.messages())
    assert recipients == Counter(f"user{i}@example.org" for i in range(USERS))
    assert len({m["Message-ID"] for m in mails}) == USERS
