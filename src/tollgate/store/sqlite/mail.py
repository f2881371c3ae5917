"""Mailed tokens and the outbox (issue 17): on the thread's connection, one hop each (none
is on a hot path). A token is used up by one DELETE ... RETURNING on the one writer, so of
concurrent uses one gets it; a claim of due mail moves it out of reach for a lease."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Sequence
from datetime import datetime

from tollgate.store.records import AuditRecord, MailRecord, MailTokenRecord
from tollgate.store.sqlite.audit import insert_audit
from tollgate.store.sqlite.codecs import (
    Row,
    time_text,
    to_time,
    to_uuid_or_none,
    uuid_text_or_none,
)
from tollgate.store.sqlite.connection import ConnectionThread

TOKEN_COLUMNS = "id, purpose, user_id, email, created_at, expires_at"  # noqa: S105
INSERT_TOKEN = f"INSERT INTO mail_tokens ({TOKEN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"
_USABLE = "WHERE id = ? AND purpose = ? AND expires_at > ? AND user_id IS NOT NULL"
FIND_TOKEN = f"SELECT {TOKEN_COLUMNS} FROM mail_tokens {_USABLE}"
CONSUME_TOKEN = f"DELETE FROM mail_tokens {_USABLE} RETURNING {TOKEN_COLUMNS}"
PURGE_TOKENS = "DELETE FROM mail_tokens WHERE expires_at < ?"

MAIL_COLUMNS = (
    "id, kind, recipient, subject, text_body, html_body, created_at, expires_at, user_id, "
    "attempts, next_attempt_at, last_error"
)
INSERT_MAIL = f"INSERT INTO mail_outbox ({MAIL_COLUMNS}) VALUES ({', '.join('?' * 12)})"
DUE = (
    f"SELECT {MAIL_COLUMNS} FROM mail_outbox WHERE next_attempt_at <= ? "
    "ORDER BY created_at, id LIMIT ?"
)
LEASE = "UPDATE mail_outbox SET next_attempt_at = ? WHERE id = ?"
REMOVE = "DELETE FROM mail_outbox WHERE id = ?"
FAILED = (
    "UPDATE mail_outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? "
    "WHERE id = ?"
)
BACKLOG = "SELECT count(*) FROM mail_outbox"


def token_params(token: MailTokenRecord) -> Row:
    return (
        token.id,
        token.purpose,
        uuid_text_or_none(token.user_id),
        token.email,
        time_text(token.created_at),
        time_text(token.expires_at),
    )


def token_from_row(row: Row) -> MailTokenRecord:
    return MailTokenRecord(
        id=row[0],
        purpose=row[1],
        user_id=to_uuid_or_none(row[2]),
        email=row[3],
        created_at=to_time(row[4]),
        expires_at=to_time(row[5]),
    )


def mail_params(mail: MailRecord) -> Row:
    return (
        mail.id,
        mail.kind,
        mail.recipient,
        mail.subject,
        mail.text,
        mail.html,
        time_text(mail.created_at),
        time_text(mail.expires_at),
        uuid_text_or_none(mail.user_id),
        mail.attempts,
        time_text(mail.next_attempt_at or mail.created_at),
        mail.last_error,
    )


def mail_from_row(row: Row) -> MailRecord:
    return MailRecord(
        id=row[0],
        kind=row[1],
        recipient=row[2],
        subject=row[3],
        text=row[4],
        html=row[5],
        created_at=to_time(row[6]),
        expires_at=to_time(row[7]),
        user_id=to_uuid_or_none(row[8]),
        attempts=row[9],
        next_attempt_at=to_time(row[10]),
        last_error=row[11],
    )


def _issue(
    connection: sqlite3.Connection,
    token: Row,
    mail: Row | None,
    audit: Sequence[AuditRecord],
) -> None:
    connection.execute(INSERT_TOKEN, token)
    if mail is not None:
        connection.execute(INSERT_MAIL, mail)
    insert_audit(connection, audit)


def _one_token(
    connection: sqlite3.Connection, sql: str, token_id: str, purpose: str, now: str
) -> MailTokenRecord | None:
    row = connection.execute(sql, (token_id, purpose, now)).fetchone()
    return None if row is None else token_from_row(row)


def _purge(connection: sqlite3.Connection, before: str) -> int:
    return connection.execute(PURGE_TOKENS, (before,)).rowcount


class SqliteMailTokenStore:
    def __init__(self, thread: ConnectionThread) -> None:
        self._thread = thread

    async def issue(
        self,
        token: MailTokenRecord,
        mail: MailRecord | None = None,
        audit: Sequence[AuditRecord] = (),
    ) -> None:
        await self._thread.write(
            _issue, token_params(token), None if mail is None else mail_params(mail), audit
        )

    async def find(self, token_id: str, purpose: str, now: datetime) -> MailTokenRecord | None:
        return await self._thread.call(_one_token, FIND_TOKEN, token_id, purpose, time_text(now))

    async def consume(self, token_id: str, purpose: str, now: datetime) -> MailTokenRecord | None:
        return await self._thread.write(
            _one_token, CONSUME_TOKEN, token_id, purpose, time_text(now)
        )

    async def purge(self, before: datetime) -> int:
        return await self._thread.write(_purge, time_text(before))


def _enqueue(connection: sqlite3.Connection, mail: Row, audit: Sequence[AuditRecord]) -> None:
    connection.execute(INSERT_MAIL, mail)
    insert_audit(connection, audit)


def _claim(
    connection: sqlite3.Connection, now: str, lease_until: str, limit: int
) -> list[MailRecord]:
    """In one write transaction: the due rows are read and leased before any other
    connection (another worker's) can take the write lock."""
    due = [mail_from_row(row) for row in connection.execute(DUE, (now, limit)).fetchall()]
    connection.executemany(LEASE, [(lease_until, mail.id) for mail in due])
    return [dataclasses.replace(mail, next_attempt_at=to_time(lease_until)) for mail in due]


def _remove(connection: sqlite3.Connection, mail_id: str, audit: Sequence[AuditRecord]) -> None:
    connection.execute(REMOVE, (mail_id,))
    insert_audit(connection, audit)


def _failed(connection: sqlite3.Connection, mail_id: str, at: str, error: str) -> None:
    connection.execute(FAILED, (at, error[:512], mail_id))


def _backlog(connection: sqlite3.Connection) -> int:
    count: int = connection.execute(BACKLOG).fetchone()[0]
    return count


class SqliteMailOutbox:
    def __init__(self, thread: ConnectionThread) -> None:
        self._thread = thread

    async def enqueue(self, mail: MailRecord, audit: Sequence[AuditRecord] = ()) -> None:
        await self._thread.write(_enqueue, mail_params(mail), audit)

    async def claim(self, now: datetime, lease_until: datetime, limit: int) -> list[MailRecord]:
        return await self._thread.write(_claim, time_text(now), time_text(lease_until), limit)

    async def remove(self, mail_id: str, audit: Sequence[AuditRecord] = ()) -> None:
        await self._thread.write(_remove, mail_id, audit)

    async def failed(self, mail_id: str, next_attempt_at: datetime, error: str) -> None:
        await self._thread.write(_failed, mail_id, time_text(next_attempt_at), error)

    async def backlog(self) -> int:
        return await self._thread.call(_backlog)
