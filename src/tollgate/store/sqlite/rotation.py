"""The refresh: use a refresh token once and insert its child, in one write transaction.

Runs on the connection's thread inside `BEGIN IMMEDIATE` (connection.in_write_transaction).
The first statement is the compare-and-set (`... WHERE used_at IS NULL RETURNING`): of
any number of concurrent callers with one token exactly one gets its row back, whether
they share this connection or come from another process on the same file, since
SQLite runs one write transaction at a time. Every read after it sees the state the
commit will be made on. Whatever is refused is rolled back, so nothing is written.
"""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import replace
from datetime import datetime, timedelta

from tollgate.store.records import (
    AlreadyUsed,
    NotUsable,
    RefreshTokenRecord,
    Rotated,
    Rotation,
)
from tollgate.store.sqlite.codecs import (
    SESSION_COLUMNS,
    SESSION_WIDTH,
    TOKEN_COLUMNS,
    USER_COLUMNS,
    Row,
    session_from_row,
    time_text,
    token_from_row,
    token_params,
    user_from_row,
)
from tollgate.store.sqlite.connection import rollback

# The reasons are the services' words for the refusal (they become the error description).
UNKNOWN = "The refresh token is not known."
ENDED = "The session has ended."

CLAIM = (
    "UPDATE refresh_tokens SET used_at = ?, replaced_by = ? "
    "WHERE id = ? AND used_at IS NULL RETURNING session_id"
)


def _prefixed(alias: str, columns: str) -> str:
    return ", ".join(f"{alias}.{column}" for column in columns.split(", "))


LIVE_WITH_USER = (
    f"SELECT {_prefixed('s', SESSION_COLUMNS)}, {_prefixed('u', USER_COLUMNS)} "
    "FROM sessions s JOIN users u ON u.id = s.user_id "
    "WHERE s.id = ? AND s.revoked_at IS NULL AND s.expires_at > ?"
)
TOUCH = "UPDATE sessions SET last_used_at = ? WHERE id = ?"
TOKEN_BY_ID = f"SELECT {TOKEN_COLUMNS} FROM refresh_tokens WHERE id = ?"
INSERT_TOKEN = f"INSERT INTO refresh_tokens ({TOKEN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"


def rotate(
    connection: sqlite3.Connection,
    token_id: str,
    session_id: uuid.UUID,
    user_id: uuid.UUID,
    child_id: str,
    child_salt: bytes,
    now: datetime,
    refresh_ttl: timedelta,
) -> Rotation:
    """SessionStore.rotate, on the connection's thread, inside BEGIN IMMEDIATE."""
    at, sid = time_text(now), session_id.hex
    claimed = connection.execute(CLAIM, (at, child_id, token_id)).fetchone()
    if claimed is None:  # used before, or unknown: nothing was written
        try:
            return _already_used(connection, token_id, sid, user_id, at)
        finally:
            rollback(connection)
    if claimed[0] != sid:
        rollback(connection)
        return NotUsable(UNKNOWN)
    found = connection.execute(LIVE_WITH_USER, (sid, at)).fetchone()
    if found is None or not _usable(found, user_id):
        rollback(connection)
        return NotUsable(ENDED)
    session, user = session_from_row(found), user_from_row(found, SESSION_WIDTH)
    connection.execute(TOUCH, (at, sid))
    child = RefreshTokenRecord(
        id=child_id,
        session_id=session_id,
        issued_at=now,
        # A refresh token never outlives its session (TOLLGATE_SESSION_MAX_AGE).
        expires_at=min(now + refresh_ttl, session.expires_at),
        parent_id=token_id,
        derivation_salt=child_salt,
    )
    connection.execute(INSERT_TOKEN, token_params(child))
    return Rotated(session=replace(session, last_used_at=now), user=user, child=child)


def _usable(found: Row, user_id: uuid.UUID) -> bool:
    """A live session (found at all) whose user is `user_id` and not disabled."""
    user_at = SESSION_WIDTH  # the user's columns follow the session's
    return found[user_at] == user_id.hex and not found[user_at + 7]  # id, disabled


def _already_used(
    connection: sqlite3.Connection, token_id: str, sid: str, user_id: uuid.UUID, at: str
) -> Rotation:
    """What the services need to tell a retry from theft: the token, its child, the live
    session and its user, read in the same transaction as the failed claim."""
    row = connection.execute(TOKEN_BY_ID, (token_id,)).fetchone()
    if row is None or row[1] != sid:
        return NotUsable(UNKNOWN)
    found = connection.execute(LIVE_WITH_USER, (sid, at)).fetchone()
    if found is None or not _usable(found, user_id):
        return NotUsable(ENDED)
    token = token_from_row(row)
    child = None
    if token.replaced_by is not None:
        child_row = connection.execute(TOKEN_BY_ID, (token.replaced_by,)).fetchone()
        child = None if child_row is None else token_from_row(child_row)
    return AlreadyUsed(
        token=token,
        child=child,
        session=session_from_row(found),
        user=user_from_row(found, SESSION_WIDTH),
    )
