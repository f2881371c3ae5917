"""Values as SQLAlchemy wrote them to SQLite, so databases made before this store keep working.

- UUIDs: 32 lowercase hex digits, no dashes (SQLAlchemy's `Uuid` on SQLite is CHAR(32)).
- Datetimes: naive UTC text 'YYYY-MM-DD HH:MM:SS.ffffff', always six fractional digits
  (SQLAlchemy's SQLite DATETIME storage format). SQL compares them as text, which orders
  them correctly only because every value has this one fixed width.
- Booleans: 0/1. Bytes: BLOB (sqlite3 does both natively).

Rows are read as plain tuples (the fastest cursor shape) with the columns named in the
`*_COLUMNS` constants, in that order.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from tollgate.store.records import (
    AuditRecord,
    AuthorizationCodeRecord,
    ClientRecord,
    ConsentRecord,
    KeyRecord,
    RefreshTokenRecord,
    SessionRecord,
    UserRecord,
)

Row = tuple[Any, ...]


def uuid_text(value: uuid.UUID) -> str:
    return value.hex


def uuid_text_or_none(value: uuid.UUID | None) -> str | None:
    return None if value is None else value.hex


def to_uuid(text: str) -> uuid.UUID:
    # uuid.UUID accepts the dashed form too, as SQLAlchemy's reader does.
    return uuid.UUID(text)


def to_uuid_or_none(text: str | None) -> uuid.UUID | None:
    return None if text is None else uuid.UUID(text)


def time_text(value: datetime) -> str:
    if value.tzinfo is None:
        # As schema.UTCDateTime: a naive value could be local time; refuse to guess.
        raise ValueError("naive datetime given to a UTC column")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def time_text_or_none(value: datetime | None) -> str | None:
    return None if value is None else time_text(value)


def to_time(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def to_time_or_none(text: str | None) -> datetime | None:
    return None if text is None else to_time(text)


USER_COLUMNS = (
    "id, username, username_key, username_skeleton, email, password_hash, scope, disabled, "
    "created_at, password_changed_at, email_key, email_verified_at"
)
USER_WIDTH = 12


def user_params(user: UserRecord) -> Row:
    return (
        uuid_text(user.id),
        user.username,
        user.username_key,
        user.username_skeleton,
        user.email,
        user.password_hash,
        user.scope,
        int(user.disabled),
        time_text(user.created_at),
        time_text(user.password_changed_at),
        user.email_key,
        time_text_or_none(user.email_verified_at),
    )


def user_from_row(row: Row, at: int = 0) -> UserRecord:
    return UserRecord(
        id=to_uuid(row[at]),
        username=row[at + 1],
        username_key=row[at + 2],
        username_skeleton=row[at + 3],
        email=row[at + 4],
        password_hash=row[at + 5],
        scope=row[at + 6],
        disabled=bool(row[at + 7]),
        created_at=to_time(row[at + 8]),
        password_changed_at=to_time(row[at + 9]),
        email_key=row[at + 10],
        email_verified_at=to_time_or_none(row[at + 11]),
    )


SESSION_COLUMNS = (
    "id, user_id, scope, created_at, last_used_at, expires_at, revoked_at, revoked_reason, "
    "user_agent, ip, client_id, dpop_jkt, amr"
)
SESSION_WIDTH = 13


def session_params(session: SessionRecord) -> Row:
    return (
        uuid_text(session.id),
        uuid_text(session.user_id),
        session.scope,
        time_text(session.created_at),
        time_text(session.last_used_at),
        time_text(session.expires_at),
        time_text_or_none(session.revoked_at),
        session.revoked_reason,
        session.user_agent,
        session.ip,
        session.client_id,
        session.dpop_jkt,
        session.amr,
    )


def session_from_row(row: Row, at: int = 0) -> SessionRecord:
    return SessionRecord(
        id=to_uuid(row[at]),
        user_id=to_uuid(row[at + 1]),
        scope=row[at + 2],
        created_at=to_time(row[at + 3]),
        last_used_at=to_time(row[at + 4]),
        expires_at=to_time(row[at + 5]),
        revoked_at=to_time_or_none(row[at + 6]),
        revoked_reason=row[at + 7],
        user_agent=row[at + 8],
        ip=row[at + 9],
        client_id=row[at + 10],
        dpop_jkt=row[at + 11],
        amr=row[at + 12],
    )


TOKEN_COLUMNS = (
    "id, session_id, issued_at, expires_at, parent_id, derivation_salt, used_at, replaced_by"  # noqa: S105
)


def token_params(token: RefreshTokenRecord) -> Row:
    return (
        token.id,
        uuid_text(token.session_id),
        time_text(token.issued_at),
        time_text(token.expires_at),
        token.parent_id,
        token.derivation_salt,
        time_text_or_none(token.used_at),
        token.replaced_by,
    )


def token_from_row(row: Row) -> RefreshTokenRecord:
    return RefreshTokenRecord(
        id=row[0],
        session_id=to_uuid(row[1]),
        issued_at=to_time(row[2]),
        expires_at=to_time(row[3]),
        parent_id=row[4],
        derivation_salt=row[5],
        used_at=to_time_or_none(row[6]),
        replaced_by=row[7],
    )


KEY_COLUMNS = "kid, alg, private_key, public_jwk, created_at, activates_at, retired_at"


def key_params(key: KeyRecord) -> Row:
    return (
        key.kid,
        key.alg,
        key.private_key,
        key.public_jwk,
        time_text(key.created_at),
        time_text(key.activates_at),
        time_text_or_none(key.retired_at),
    )


def key_from_row(row: Row) -> KeyRecord:
    return KeyRecord(
        kid=row[0],
        alg=row[1],
        private_key=row[2],
        public_jwk=row[3],
        created_at=to_time(row[4]),
        activates_at=to_time(row[5]),
        retired_at=to_time_or_none(row[6]),
    )


CLIENT_COLUMNS = (
    "client_id, name, secret_hash, created_at, redirect_uris, post_logout_redirect_uris, "
    "grant_types, scope, trusted, id_token_signed_response_alg"
)


def text_tuple(values: tuple[str, ...]) -> str:
    """As schema.TextTuple writes it: a JSON array."""
    return json.dumps(list(values))


def to_tuple(text: str) -> tuple[str, ...]:
    return tuple(json.loads(text))


def client_params(client: ClientRecord) -> Row:
    return (
        client.client_id,
        client.name,
        client.secret_hash,
        time_text(client.created_at),
        text_tuple(client.redirect_uris),
        text_tuple(client.post_logout_redirect_uris),
        text_tuple(client.grant_types),
        client.scope,
        int(client.trusted),
        client.id_token_signed_response_alg,
    )


def client_from_row(row: Row) -> ClientRecord:
    return ClientRecord(
        client_id=row[0],
        name=row[1],
        secret_hash=row[2],
        created_at=to_time(row[3]),
        redirect_uris=to_tuple(row[4]),
        post_logout_redirect_uris=to_tuple(row[5]),
        grant_types=to_tuple(row[6]),
        scope=row[7],
        trusted=bool(row[8]),
        id_token_signed_response_alg=row[9],
    )


CODE_COLUMNS = (
    "id, client_id, user_id, redirect_uri, scope, code_challenge, nonce, login_session_id, "
    "auth_time, issued_at, expires_at, used_at, session_id"
)


def code_params(code: AuthorizationCodeRecord) -> Row:
    return (
        code.id,
        code.client_id,
        uuid_text(code.user_id),
        code.redirect_uri,
        code.scope,
        code.code_challenge,
        code.nonce,
        uuid_text_or_none(code.login_session_id),
        time_text(code.auth_time),
        time_text(code.issued_at),
        time_text(code.expires_at),
        time_text_or_none(code.used_at),
        uuid_text_or_none(code.session_id),
    )


def code_from_row(row: Row) -> AuthorizationCodeRecord:
    return AuthorizationCodeRecord(
        id=row[0],
        client_id=row[1],
        user_id=to_uuid(row[2]),
        redirect_uri=row[3],
        scope=row[4],
        code_challenge=row[5],
        nonce=row[6],
        login_session_id=to_uuid_or_none(row[7]),
        auth_time=to_time(row[8]),
        issued_at=to_time(row[9]),
        expires_at=to_time(row[10]),
        used_at=to_time_or_none(row[11]),
        session_id=to_uuid_or_none(row[12]),
    )


CONSENT_COLUMNS = "user_id, client_id, scope, granted_at"


def consent_from_row(row: Row) -> ConsentRecord:
    return ConsentRecord(
        user_id=to_uuid(row[0]), client_id=row[1], scope=row[2], granted_at=to_time(row[3])
    )


# `id` is left to SQLite (INTEGER PRIMARY KEY) on insert and read back last.
AUDIT_COLUMNS = "at, event, user_id, username, session_id, ip, user_agent, detail"


def audit_params(record: AuditRecord) -> Row:
    return (
        time_text(record.at),
        record.event,
        uuid_text_or_none(record.user_id),
        record.username,
        uuid_text_or_none(record.session_id),
        record.ip,
        record.user_agent,
        record.detail,
    )


def audit_from_row(row: Row) -> AuditRecord:
    return AuditRecord(
        at=to_time(row[0]),
        event=row[1],
        user_id=to_uuid_or_none(row[2]),
        username=row[3],
        session_id=to_uuid_or_none(row[4]),
        ip=row[5],
        user_agent=row[6],
        detail=row[7],
        id=row[8],
    )
