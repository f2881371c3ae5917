"""Users: one hop per operation; session revocations and audit rows in the same transaction."""

from __future__ import annotations

import builtins
import sqlite3
import uuid
from collections.abc import Sequence
from datetime import datetime

from tollgate.store.records import AuditRecord, Conflict, PasswordChange, UserRecord
from tollgate.store.sqlite.audit import insert_audit
from tollgate.store.sqlite.codecs import (
    USER_COLUMNS,
    USER_WIDTH,
    Row,
    time_text,
    user_from_row,
    user_params,
    uuid_text,
)
from tollgate.store.sqlite.connection import ConnectionThread, rollback
from tollgate.store.sqlite.loop import LoopConnection
from tollgate.store.sqlite.sessions import revoke_live_of_user

INSERT_USER = f"INSERT INTO users ({USER_COLUMNS}) VALUES ({', '.join('?' * USER_WIDTH)})"
USER_BY_ID = f"SELECT {USER_COLUMNS} FROM users WHERE id = ?"
KEY_TAKEN = "SELECT 1 FROM users WHERE username_key = ?"
USER_BY_KEY = f"SELECT {USER_COLUMNS} FROM users WHERE username_key = ?"
ALL_USERS = f"SELECT {USER_COLUMNS} FROM users ORDER BY created_at"
SET_PASSWORD = "UPDATE users SET password_hash = ?, password_changed_at = ? WHERE id = ?"  # noqa: S105
# Only if unchanged meanwhile: a concurrent password change must win over a rehash.
UPGRADE_HASH = "UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?"
SET_DISABLED = "UPDATE users SET disabled = ? WHERE id = ?"
SET_SCOPE = "UPDATE users SET scope = ? WHERE id = ?"
# The foreign keys cascade too (PRAGMA foreign_keys=ON); said here so no setting decides.
DELETE_USER_TOKENS = (
    "DELETE FROM refresh_tokens WHERE session_id IN (SELECT id FROM sessions WHERE user_id = ?)"
)
DELETE_USER_SESSIONS = "DELETE FROM sessions WHERE user_id = ?"
DELETE_USER = "DELETE FROM users WHERE id = ?"
# The verified one first (at most one: uq_users_verified_email_key), then oldest first.
USERS_BY_EMAIL = (
    f"SELECT {USER_COLUMNS} FROM users WHERE email_key = ? "
    "ORDER BY email_verified_at IS NULL, email_verified_at, created_at LIMIT 20"
)
SET_EMAIL = "UPDATE users SET email = ?, email_key = ?, email_verified_at = NULL WHERE id = ?"
VERIFY_EMAIL = (
    "UPDATE users SET email_verified_at = COALESCE(email_verified_at, ?) WHERE id = ? AND email = ?"
)


def _create(connection: sqlite3.Connection, params: Row, audit: Sequence[AuditRecord]) -> None:
    try:
        connection.execute(INSERT_USER, params)
    except sqlite3.IntegrityError as exc:
        # SQLite names the first unique index it finds violated, which may be the
        # skeleton's; a name taken as such is a "username" conflict all the same.
        if connection.execute(KEY_TAKEN, (params[2],)).fetchone() is not None:
            raise Conflict("username") from exc
        raise
    insert_audit(connection, audit)


def _one(connection: sqlite3.Connection, sql: str, key: str) -> UserRecord | None:
    row = connection.execute(sql, (key,)).fetchone()
    return None if row is None else user_from_row(row)


def _all(connection: sqlite3.Connection) -> list[UserRecord]:
    return [user_from_row(row) for row in connection.execute(ALL_USERS).fetchall()]


def _set_password(
    connection: sqlite3.Connection,
    user_id: str,
    password_hash: str,
    now: str,
    end_sessions: str | None,
    keep_session: str | None,
    audit: Sequence[AuditRecord],
) -> int:
    connection.execute(SET_PASSWORD, (password_hash, now, user_id))
    ended = 0
    if end_sessions is not None:
        ended = revoke_live_of_user(connection, user_id, end_sessions, now, keep_session)
    insert_audit(connection, audit)
    return ended


def _upgrade_hash(connection: sqlite3.Connection, user_id: str, old: str, new: str) -> bool:
    return connection.execute(UPGRADE_HASH, (new, user_id, old)).rowcount == 1


def _set_disabled(
    connection: sqlite3.Connection,
    user_id: str,
    disabled: bool,
    now: str,
    audit: Sequence[AuditRecord],
) -> int:
    connection.execute(SET_DISABLED, (int(disabled), user_id))
    ended = 0
    if disabled:
        ended = revoke_live_of_user(connection, user_id, "account_disabled", now, None)
    insert_audit(connection, audit)
    return ended


def _set_scope(
    connection: sqlite3.Connection, user_id: str, scope: str, audit: Sequence[AuditRecord]
) -> None:
    connection.execute(SET_SCOPE, (scope, user_id))
    insert_audit(connection, audit)


def _delete(connection: sqlite3.Connection, user_id: str, audit: Sequence[AuditRecord]) -> bool:
    connection.execute(DELETE_USER_TOKENS, (user_id,))
    connection.execute(DELETE_USER_SESSIONS, (user_id,))
    if connection.execute(DELETE_USER, (user_id,)).rowcount != 1:
        rollback(connection)  # no such user: nothing happened, nothing to audit
        return False
    insert_audit(connection, audit)
    return True


def _by_email(connection: sqlite3.Connection, email_key: str) -> list[UserRecord]:
    return [user_from_row(row) for row in connection.execute(USERS_BY_EMAIL, (email_key,))]


def _set_email(
    connection: sqlite3.Connection,
    user_id: str,
    email: str | None,
    email_key: str | None,
    audit: Sequence[AuditRecord],
) -> bool:
    if connection.execute(SET_EMAIL, (email, email_key, user_id)).rowcount != 1:
        rollback(connection)
        return False
    insert_audit(connection, audit)
    return True


def _verify_email(
    connection: sqlite3.Connection, user_id: str, email: str, now: str, audit: Sequence[AuditRecord]
) -> bool:
    try:
        changed = connection.execute(VERIFY_EMAIL, (now, user_id, email)).rowcount
    except sqlite3.IntegrityError as exc:  # uq_users_verified_email_key
        raise Conflict("email") from exc
    if changed != 1:
        rollback(connection)
        return False
    insert_audit(connection, audit)
    return True


class SqliteUserStore:
    """A user read by key (every login's first step) runs on the loop's connection; the
    rest on the thread's."""

    def __init__(self, thread: ConnectionThread, loop: LoopConnection) -> None:
        self._thread = thread
        self._loop = loop

    async def create(self, user: UserRecord, audit: Sequence[AuditRecord] = ()) -> None:
        await self._thread.write(_create, user_params(user), audit)

    async def by_id(self, user_id: uuid.UUID) -> UserRecord | None:
        return await self._loop.call(_one, USER_BY_ID, uuid_text(user_id))

    async def by_username_key(self, username_key: str) -> UserRecord | None:
        return await self._loop.call(_one, USER_BY_KEY, username_key)

    async def list(self) -> list[UserRecord]:
        return await self._thread.call(_all)

    async def set_password(self, change: PasswordChange) -> int:
        return await self._thread.write(
            _set_password,
            uuid_text(change.user_id),
            change.password_hash,
            time_text(change.now),
            change.end_sessions,
            None if change.keep_session is None else uuid_text(change.keep_session),
            change.audit,
        )

    async def upgrade_password_hash(self, user_id: uuid.UUID, old_hash: str, new_hash: str) -> bool:
        return await self._thread.write(_upgrade_hash, uuid_text(user_id), old_hash, new_hash)

    async def set_disabled(
        self, user_id: uuid.UUID, disabled: bool, now: datetime, audit: Sequence[AuditRecord] = ()
    ) -> int:
        return await self._thread.write(
            _set_disabled, uuid_text(user_id), disabled, time_text(now), audit
        )

    async def set_scope(
        self, user_id: uuid.UUID, scope: str, audit: Sequence[AuditRecord] = ()
    ) -> None:
        await self._thread.write(_set_scope, uuid_text(user_id), scope, audit)

    async def delete(self, user_id: uuid.UUID, audit: Sequence[AuditRecord] = ()) -> bool:
        return await self._thread.write(_delete, uuid_text(user_id), audit)

    async def by_email_key(self, email_key: str) -> builtins.list[UserRecord]:
        return await self._loop.call(_by_email, email_key)

    async def set_email(
        self,
        user_id: uuid.UUID,
        email: str | None,
        email_key: str | None,
        audit: Sequence[AuditRecord] = (),
    ) -> bool:
        return await self._thread.write(_set_email, uuid_text(user_id), email, email_key, audit)

    async def verify_email(
        self, user_id: uuid.UUID, email: str, now: datetime, audit: Sequence[AuditRecord] = ()
    ) -> bool:
        return await self._thread.write(
            _verify_email, uuid_text(user_id), email, time_text(now), audit
        )
