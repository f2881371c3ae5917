"""Columns read back, and the records built from them.

Queries name their columns from these lists, so a row always comes back in the order the
records are built from; a prefix lets one row carry several tables (see rotation.py).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from asyncpg import Record

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

USER = (
    "id",
    "username",
    "username_key",
    "username_skeleton",
    "email",
    "password_hash",
    "scope",
    "disabled",
    "created_at",
    "password_changed_at",
    "email_key",
    "email_verified_at",
)
SESSION = (
    "id",
    "user_id",
    "scope",
    "created_at",
    "last_used_at",
    "expires_at",
    "revoked_at",
    "revoked_reason",
    "user_agent",
    "ip",
    "client_id",
    "dpop_jkt",
    "amr",
)
TOKEN = (
    "id",
    "session_id",
    "issued_at",
    "expires_at",
    "parent_id",
    "derivation_salt",
    "used_at",
    "replaced_by",
)
KEY = ("kid", "alg", "private_key", "public_jwk", "created_at", "activates_at", "retired_at")
CLIENT = (
    "client_id",
    "name",
    "secret_hash",
    "created_at",
    "redirect_uris",
    "post_logout_redirect_uris",
    "grant_types",
    "scope",
    "trusted",
    "id_token_signed_response_alg",
)
CODE = (
    "id",
    "client_id",
    "user_id",
    "redirect_uri",
    "scope",
    "code_challenge",
    "nonce",
    "login_session_id",
    "auth_time",
    "issued_at",
    "expires_at",
    "used_at",
    "session_id",
)
CONSENT = ("user_id", "client_id", "scope", "granted_at")
AUDIT = ("at", "event", "user_id", "username", "session_id", "ip", "user_agent", "detail", "id")


def columns(names: tuple[str, ...], table: str = "", prefix: str = "") -> str:
    """`t.id AS p_id, ...`: a select list for `names`, optionally qualified and renamed."""
    qualify = f"{table}." if table else ""
    return ", ".join(
        f"{qualify}{name} AS {prefix}{name}" if prefix else f"{qualify}{name}" for name in names
    )


def placeholders(names: tuple[str, ...], first: int = 1) -> str:
    """`$1, $2, ...`: one parameter per column of `names`, numbered from `first`."""
    return ", ".join(f"${first + i}" for i in range(len(names)))


def params(record: object, names: tuple[str, ...]) -> tuple[Any, ...]:
    """The record's values for the columns `names`, in that order (an INSERT's parameters):
    each column is named as the record's field, and asyncpg encodes the values as they are."""
    return tuple(getattr(record, name) for name in names)


def utc(value: datetime) -> datetime:
    # asyncpg decodes timestamptz as aware UTC already; this keeps it so whatever the
    # server's or the session's TimeZone is.
    return value.astimezone(UTC)


def utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


def _values(row: Record, names: tuple[str, ...], prefix: str) -> list[Any]:
    return [row[prefix + name] for name in names]


def user(row: Record, prefix: str = "") -> UserRecord:
    (
        id_,
        username,
        key,
        skeleton,
        email,
        password_hash,
        scope,
        disabled,
        created,
        changed,
        email_key,
        verified,
    ) = _values(row, USER, prefix)
    return UserRecord(
        id=id_,
        username=username,
        username_key=key,
        username_skeleton=skeleton,
        email=email,
        password_hash=password_hash,
        scope=scope,
        disabled=disabled,
        created_at=utc(created),
        password_changed_at=utc(changed),
        email_key=email_key,
        email_verified_at=utc_or_none(verified),
    )


def session(row: Record, prefix: str = "") -> SessionRecord:
    (
        id_,
        user_id,
        scope,
        created,
        last_used,
        expires,
        revoked,
        reason,
        agent,
        ip,
        client_id,
        jkt,
        amr,
    ) = _values(row, SESSION, prefix)
    return SessionRecord(
        id=id_,
        user_id=user_id,
        scope=scope,
        created_at=utc(created),
        last_used_at=utc(last_used),
        expires_at=utc(expires),
        revoked_at=utc_or_none(revoked),
        revoked_reason=reason,
        user_agent=agent,
        ip=ip,
        client_id=client_id,
        dpop_jkt=jkt,
        amr=amr,
    )


def token(row: Record, prefix: str = "") -> RefreshTokenRecord:
    (id_, session_id, issued, expires, parent, salt, used, replaced_by) = _values(
        row, TOKEN, prefix
    )
    return RefreshTokenRecord(
        id=id_,
        session_id=session_id,
        issued_at=utc(issued),
        expires_at=utc(expires),
        parent_id=parent,
        derivation_salt=salt,
        used_at=utc_or_none(used),
        replaced_by=replaced_by,
    )


def key(row: Record) -> KeyRecord:
    return KeyRecord(
        kid=row["kid"],
        alg=row["alg"],
        private_key=row["private_key"],
        public_jwk=row["public_jwk"],
        created_at=utc(row["created_at"]),
        activates_at=utc(row["activates_at"]),
        retired_at=utc_or_none(row["retired_at"]),
    )


def client_params(record: ClientRecord) -> tuple[Any, ...]:
    """An INSERT's parameters for CLIENT: the tuples as JSON arrays (schema.TextTuple)."""
    return tuple(
        json.dumps(list(value)) if isinstance(value, tuple) else value
        for value in params(record, CLIENT)
    )


def client(row: Record) -> ClientRecord:
    return ClientRecord(
        client_id=row["client_id"],
        name=row["name"],
        secret_hash=row["secret_hash"],
        created_at=utc(row["created_at"]),
        redirect_uris=tuple(json.loads(row["redirect_uris"])),
        post_logout_redirect_uris=tuple(json.loads(row["post_logout_redirect_uris"])),
        grant_types=tuple(json.loads(row["grant_types"])),
        scope=row["scope"],
        trusted=row["trusted"],
        id_token_signed_response_alg=row["id_token_signed_response_alg"],
    )


def code(row: Record) -> AuthorizationCodeRecord:
    return AuthorizationCodeRecord(
        id=row["id"],
        client_id=row["client_id"],
        user_id=row["user_id"],
        redirect_uri=row["redirect_uri"],
        scope=row["scope"],
        code_challenge=row["code_challenge"],
        nonce=row["nonce"],
        login_session_id=row["login_session_id"],
        auth_time=utc(row["auth_time"]),
        issued_at=utc(row["issued_at"]),
        expires_at=utc(row["expires_at"]),
        used_at=utc_or_none(row["used_at"]),
        session_id=row["session_id"],
    )


def consent(row: Record) -> ConsentRecord:
    return ConsentRecord(
        user_id=row["user_id"],
        client_id=row["client_id"],
        scope=row["scope"],
        granted_at=utc(row["granted_at"]),
    )


def audit(row: Record) -> AuditRecord:
    return AuditRecord(
        at=utc(row["at"]),
        event=row["event"],
        user_id=row["user_id"],
        username=row["username"],
        session_id=row["session_id"],
        ip=row["ip"],
        user_agent=row["user_agent"],
        detail=row["detail"],
        id=row["id"],
    )
