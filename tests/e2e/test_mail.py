"""Password reset end to end: a real `tollgate serve` process and a real SMTP server
process. The link is read from the mail; the request never waits on SMTP; a mail asked
for while SMTP is down and the server restarts in between still arrives, once; the
database holds no token in plain text."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import httpx

from tests.conftest import PASSWORD
from tests.e2e.server import running_server
from tests.support.smtp import SmtpSink, link_in, text_of

NEW_PASSWORD = "copper-lantern-meadow-58"


def every_value(database: Path) -> str:
    """Every row of every table, as text."""
    with sqlite3.connect(database) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return "\n".join(
            " ".join(str(v) for v in row)
            for table in tables
            for row in db.execute(f'SELECT * FROM "{table}"')  # noqa: S608 (names from the schema)
        )


def test_reset_end_to_end_then_login_by_address(tmp_path: Path, smtp: SmtpSink) -> None:
    database = tmp_path / "tollgate.db"
    with running_server(database, smtp_url=smtp.url, mail_interval="0.1") as base:
        joined = httpx.post(
            f"{base}/join",
            json={"username": "minsu", "password": PASSWORD, "email": "minsu@example.org"},
        )
        assert joined.status_code == 201
        [verification] = smtp.wait(to="minsu@example.org")
        assert "expires in 1 day" in text_of(verification)
        assert (
            httpx.post(f"{base}/email/verify", json={"token": link_in(verification)[2]}).status_code
            == 204
        )

        forgot = httpx.post(f"{base}/password/forgot", json={"email": "MINSU@example.org"})
        assert forgot.status_code == 202
        reset_mail = smtp.wait(to="minsu@example.org", count=2)[-1]
        link, kind, token = link_in(reset_mail)
        assert (kind, link.split("#")[0]) == ("reset", f"{base}/")
        # Opening the link (what a mail scanner does too) uses nothing up.
        assert httpx.get(link).status_code == 200
        reset = httpx.post(
            f"{base}/password/reset", json={"token": token, "new_password": NEW_PASSWORD}
        )
        assert reset.status_code == 204
        by_address = {"username": "minsu@example.org", "password": NEW_PASSWORD}
        assert httpx.post(f"{base}/login", json=by_address).status_code == 200
        again = httpx.post(
            f"{base}/password/reset", json={"token": token, "new_password": PASSWORD + "x"}
        )
        assert (again.status_code, again.json()["error"]) == (400, "invalid_token")
        # "Your password was changed" follows the reset.
        notice = smtp.wait(to="minsu@example.org", count=3)[-1]
        assert "was changed" in notice["Subject"]

    dump = every_value(database)
    assert "minsu@example.org" in dump
    for mail in smtp.messages():
        if "#" in text_of(mail):
            assert link_in(mail)[2] not in dump


def test_a_mail_asked_for_while_smtp_is_down_arrives_after_a_restart(
    tmp_path: Path,
) -> None:
    database = tmp_path / "tollgate.db"
    smtp = SmtpSink(tmp_path / "mail")  # not started yet: SMTP is down
    settings = {"smtp_url": smtp.url, "mail_interval": "0.1", "mail_first_retry": "0.2"}
    with running_server(database, **settings) as base:
        joined = httpx.post(
            f"{base}/join",
            json={"username": "minsu", "password": PASSWORD, "email": "minsu@example.org"},
        )
        assert joined.status_code == 201
        forgot = httpx.post(f"{base}/password/forgot", json={"username": "minsu"})
        assert forgot.status_code == 202
        deadline = time.monotonic() + 20
        while "tollgate_mail_failures_total 2.0" not in httpx.get(f"{base}/metrics").text:
            assert time.monotonic() < deadline, "the sender did not try both mails"
            time.sleep(0.05)
    with sqlite3.connect(database) as db:
        attempts = db.execute("SELECT kind, attempts FROM mail_outbox ORDER BY kind").fetchall()
    assert [kind for kind, _ in attempts] == ["password_reset", "verify_email"]
    assert all(tries >= 1 for _, tries in attempts)  # tried, failed, kept

    smtp.start()
    try:
        with running_server(database, **settings):
            mails = smtp.wait(to="minsu@example.org", count=2)
        assert sorted(link_in(m)[1] for m in mails) == ["reset", "verify"]
        assert len(smtp.messages()) == 2
        with sqlite3.connect(database) as db:
            assert db.execute("SELECT count(*) FROM mail_outbox").fetchone()[0] == 0
    finally:
        smtp.stop()
