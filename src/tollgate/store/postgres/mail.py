"""Mailed tokens and the outbox (issue 17): one statement each. A token is used up by one
DELETE ... RETURNING, which of concurrent uses one wins (the others find no row); due
mail is claimed with FOR UPDATE SKIP LOCKED and leased, so two replicas never take one."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from asyncpg import Record

from tollgate.store.postgres import rows
from tollgate.store.postgres.audit import audit_arrays, insert_audit
from tollgate.store.postgres.pool import Connections
from tollgate.store.records import AuditRecord, MailRecord, MailTokenRecord

TOKEN = ("id", "purpose", "user_id", "email", "created_at", "expires_at")
MAIL = (
    "id",
    "kind",
    "recipient",
    "subject",
    "text_body",
    "html_body",
    "created_at",
    "expires_at",
    "user_id",
    "attempts",
    "next_attempt_at",
    "last_error",
)
_MAIL_AT = len(TOKEN) + 1
_AUDIT_AT = _MAIL_AT + len(MAIL)
# The mail only when given ($_MAIL_AT is its id).
_ISSUE = f"""
WITH mail AS (
  INSERT INTO mail_outbox ({rows.columns(MAIL)})
  SELECT {rows.placeholders(MAIL, _MAIL_AT)} WHERE ${_MAIL_AT}::varchar IS NOT NULL
), audit AS ({insert_audit(_AUDIT_AT)})
INSERT INTO mail_tokens ({rows.columns(TOKEN)}) VALUES ({rows.placeholders(TOKEN)})
"""
_USABLE = "WHERE id = $1 AND purpose = $2 AND expires_at > $3 AND user_id IS NOT NULL"
_FIND = f"SELECT {rows.columns(TOKEN)} FROM mail_tokens {_USABLE}"
_CONSUME = f"DELETE FROM mail_tokens {_USABLE} RETURNING {rows.columns(TOKEN)}"
_PURGE = "DELETE FROM mail_tokens WHERE expires_at < $1"
_NO_MAIL = (None,) * len(MAIL)

_ENQUEUE = f"""
WITH audit AS ({insert_audit(len(MAIL) + 1)})
INSERT INTO mail_outbox ({rows.columns(MAIL)}) VALUES ({rows.placeholders(MAIL)})
"""
_CLAIM = f"""
WITH due AS (
  SELECT id FROM mail_outbox WHERE next_attempt_at <= $1
  ORDER BY created_at, id LIMIT $3
  FOR UPDATE SKIP LOCKED
)
UPDATE mail_outbox SET next_attempt_at = $2 FROM due WHERE mail_outbox.id = due.id
RETURNING {", ".join("mail_outbox." + c for c in MAIL)}
"""
_REMOVE = f"""
WITH removed AS (DELETE FROM mail_outbox WHERE id = $1 RETURNING id),
audit AS ({insert_audit(2)})
SELECT count(*) FROM removed
"""
_FAILED = (
    "UPDATE mail_outbox SET attempts = attempts + 1, next_attempt_at = $2, last_error = $3 "
    "WHERE id = $1"
)


def _token(row: Record) -> MailTokenRecord:
    return MailTokenRecord(
        id=row["id"],
        purpose=row["purpose"],
        user_id=row["user_id"],
        email=row["email"],
        created_at=rows.utc(row["created_at"]),
        expires_at=rows.utc(row["expires_at"]),
    )


def _mail_params(mail: MailRecord) -> tuple[object, ...]:
    return (
        mail.id,
        mail.kind,
        mail.recipient,
        mail.subject,
        mail.text,
        mail.html,
        mail.created_at,
        mail.expires_at,
        mail.user_id,
        mail.attempts,
        mail.next_attempt_at or mail.created_at,
        mail.last_error,
    )


def _mail(row: Record) -> MailRecord:
    return MailRecord(
        id=row["id"],
        kind=row["kind"],
        recipient=row["recipient"],
        subject=row["subject"],
        text=row["text_body"],
        html=row["html_body"],
        created_at=rows.utc(row["created_at"]),
        expires_at=rows.utc(row["expires_at"]),
        user_id=row["user_id"],
        attempts=row["attempts"],
        next_attempt_at=rows.utc(row["next_attempt_at"]),
        last_error=row["last_error"],
    )


class PostgresMailTokenStore:
    def __init__(self, connections: Connections) -> None:
        self._db = connections

    async def issue(
        self,
        token: MailTokenRecord,
        mail: MailRecord | None = None,
        audit: Sequence[AuditRecord] = (),
    ) -> None:
        await self._db.execute(
            _ISSUE,
            token.id,
            token.purpose,
            token.user_id,
            token.email,
            token.created_at,
            token.expires_at,
            *(_NO_MAIL if mail is None else _mail_params(mail)),
            *audit_arrays(audit),
        )

    async def find(self, token_id: str, purpose: str, now: datetime) -> MailTokenRecord | None:
        return await self._db.one(_token, _FIND, token_id, purpose, now)

    async def consume(self, token_id: str, purpose: str, now: datetime) -> MailTokenRecord | None:
        return await self._db.one(_token, _CONSUME, token_id, purpose, now)

    async def purge(self, before: datetime) -> int:
        return await self._db.execute(_PURGE, before)


class PostgresMailOutbox:
    def __init__(self, connections: Connections) -> None:
        self._db = connections

    async def enqueue(self, mail: MailRecord, audit: Sequence[AuditRecord] = ()) -> None:
        await self._db.execute(_ENQUEUE, *_mail_params(mail), *audit_arrays(audit))

    async def claim(self, now: datetime, lease_until: datetime, limit: int) -> list[MailRecord]:
        due = await self._db.all(_mail, _CLAIM, now, lease_until, limit)
        return sorted(due, key=lambda m: (m.created_at, m.id))

    async def remove(self, mail_id: str, audit: Sequence[AuditRecord] = ()) -> None:
        await self._db.fetchval(_REMOVE, mail_id, *audit_arrays(audit))

    async def failed(self, mail_id: str, next_attempt_at: datetime, error: str) -> None:
        await self._db.execute(_FAILED, mail_id, next_attempt_at, error[:512])

    async def backlog(self) -> int:
        count: int = await self._db.fetchval("SELECT count(*) FROM mail_outbox")
        return count
