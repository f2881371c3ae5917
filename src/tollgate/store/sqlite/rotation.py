"""The refresh: use a refresh token once and insert its child, in one write transaction.

The SQL runs on the connection's thread inside `BEGIN IMMEDIATE` (`in_write_transaction`).
The first statement is the compare-and-set (`... WHERE used_at IS NULL RETURNING`): of
any number of concurrent callers with one token exactly one gets its row back, whether
they share this connection or come from another process on the same file, since
SQLite runs one write transaction at a time. Every read after it sees the state the
commit will be made on. Whatever is refused is rolled back, so nothing is written.
"""

from __future__ import annotations

import sqlite3
from typing import NamedTuple

from tollgate.store.records import (
    AlreadyUsed,
    NotUsable,
    RefreshTokenRecord,
    Rotated,
    Rotation,
    RotationRequest,
)
from tollgate.store.sqlite.codecs import (
    SESSION_COLUMNS,
    SESSION_WIDTH,
    TOKEN_COLUMNS,
    USER_COLUMNS,
    Row,
    session_from_row,
    time_text,
    to_time,
    token_from_row,
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


class Claimed(NamedTuple):
    """The token was ours to use: the session and user row, the child's expiry (text)."""

    found: Row
    expires_at: str


class Used(NamedTuple):
    """The token was used before: its row, its child's row, the session and user row."""

    token: Row
    child: Row | None
    found: Row


def rotate(
    connection: sqlite3.Connection,
    token_id: str,
    sid: str,
    user_hex: str,
    child_id: str,
    child_salt: bytes,
    at: str,
    sliding_end: str,
) -> Claimed | Used | NotUsable:
    """The SQL of SessionStore.rotate, on the connection's thread inside BEGIN IMMEDIATE.

    Rows are turned into records afterwards, on the event loop (`outcome`): the write
    lock, which another process may be waiting for, is held for the SQL alone, and
    the thread goes on to the next operation (SQLite releases the GIL while it works)
    while the loop decodes this one.
    """
    claimed = connection.execute(CLAIM, (at, child_id, token_id)).fetchone()
    if claimed is None:  # used before, or unknown: nothing was written
        try:
            return _already_used(connection, token_id, sid, user_hex, at)
        finally:
            rollback(connection)
    if claimed[0] != sid:
        rollback(connection)
        return NotUsable(UNKNOWN)
    found = connection.execute(LIVE_WITH_USER, (sid, at)).fetchone()
    if found is None or not _usable(found, user_hex):
        rollback(connection)
        return NotUsable(ENDED)
    connection.execute(TOUCH, (at, sid))
    # A refresh token never outlives its session (TOLLGATE_SESSION_MAX_AGE). Both are
    # times in the one fixed-width text form, so the smaller text is the earlier time.
    expires_at = min(sliding_end, found[5])
    child = (child_id, sid, at, expires_at, token_id, child_salt, None, None)
    connection.execute(INSERT_TOKEN, child)
    return Claimed(found, expires_at)


def _usable(found: Row, user_hex: str) -> bool:
    """A live session (found at all) whose user is `user_hex` and not disabled."""
    user_at = SESSION_WIDTH  # the user's columns follow the session's
    return found[user_at] == user_hex and not found[user_at + 7]  # id, disabled


def _already_used(
    connection: sqlite3.Connection, token_id: str, sid: str, user_hex: str, at: str
) -> Used | NotUsable:
    """What the services need to tell a retry from theft: the token, its child, the live
    session and its user, read in the same transaction as the failed claim."""
    token = connection.execute(TOKEN_BY_ID, (token_id,)).fetchone()
    if token is None or token[1] != sid:
        return NotUsable(UNKNOWN)
    found = connection.execute(LIVE_WITH_USER, (sid, at)).fetchone()
    if found is None or not _usable(found, user_hex):
        return NotUsable(ENDED)
    replaced_by = token[7]
    child = None
    if replaced_by is not None:
        child = connection.execute(TOKEN_BY_ID, (replaced_by,)).fetchone()
    return Used(token, child, found)


def outcome(result: Claimed | Used | NotUsable, request: RotationRequest) -> Rotation:
    """The records of what `rotate` found, on the event loop."""
    if isinstance(result, Claimed):
        found = result.found
        child = RefreshTokenRecord(
            id=request.child_id,
            session_id=request.session_id,
            issued_at=request.now,
            expires_at=to_time(result.expires_at),
            parent_id=request.token_id,
            derivation_salt=request.child_salt,
        )
        # The session as committed: last used now.
        at = time_text(request.now)
        session = session_from_row((*found[:4], at, *found[5:SESSION_WIDTH]))
        return Rotated(session=session, user=user_from_row(found, SESSION_WIDTH), child=child)
    if isinstance(result, Used):
        return AlreadyUsed(
            token=token_from_row(result.token),
            child=None if result.child is None else token_from_row(result.child),
            session=session_from_row(result.found),
            user=user_from_row(result.found, SESSION_WIDTH),
        )
    return result
