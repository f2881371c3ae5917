"""Sessions and their refresh tokens: one hop per operation, audit rows in the same transaction.

A session is live while `revoked_at IS NULL AND expires_at > now`; times compare as text
(see codecs), which is why they are all written in one fixed-width form.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Sequence
from datetime import datetime

from tollgate.store.records import (
    AuditRecord,
    RefreshTokenRecord,
    Rotation,
    RotationRequest,
    SessionEnd,
    SessionRecord,
)
from tollgate.store.sqlite.audit import insert_audit
from tollgate.store.sqlite.codecs import (
    SESSION_COLUMNS,
    SESSION_WIDTH,
    TOKEN_COLUMNS,
    Row,
    session_from_row,
    session_params,
    time_text,
    token_from_row,
    token_params,
    uuid_text,
)
from tollgate.store.sqlite.connection import ConnectionThread, rollback
from tollgate.store.sqlite.loop import LoopConnection
from tollgate.store.sqlite.rotation import outcome, rotate

LIVE = "revoked_at IS NULL AND expires_at > ?"
INSERT_SESSION = (
    f"INSERT INTO sessions ({SESSION_COLUMNS}) VALUES ({', '.join('?' * SESSION_WIDTH)})"
)
INSERT_TOKEN = f"INSERT INTO refresh_tokens ({TOKEN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
TOKEN_BY_ID = f"SELECT {TOKEN_COLUMNS} FROM refresh_tokens WHERE id = ?"
SELECT_SESSIONS = f"SELECT {SESSION_COLUMNS} FROM sessions"
LIVE_BY_ID = f"{SELECT_SESSIONS} WHERE id = ? AND {LIVE}"
LIVE_FOR_USER = f"{SELECT_SESSIONS} WHERE user_id = ? AND {LIVE} ORDER BY last_used_at DESC"
ENDED_FOR_USER = (
    f"{SELECT_SESSIONS} WHERE user_id = ? AND revoked_at >= ? ORDER BY revoked_at DESC LIMIT ?"
)
ALL_LIVE = f"{SELECT_SESSIONS} WHERE {LIVE} ORDER BY created_at"
REVOKE = f"UPDATE sessions SET revoked_at = ?, revoked_reason = ? WHERE id = ? AND {LIVE}"
REVOKE_OWNED = f"{REVOKE} AND user_id = ?"
REVOKE_UNREVOKED = (
    "UPDATE sessions SET revoked_at = ?, revoked_reason = ? "
    "WHERE user_id = ? AND revoked_at IS NULL AND id IS NOT ?"  # IS NOT: keep may be NULL
)
REVOKE_LIVE_OF_USER = f"{REVOKE_UNREVOKED} AND expires_at > ?"
SEEN_FROM = (
    "SELECT 1 FROM sessions s JOIN users u ON u.id = s.user_id "
    "WHERE u.username_key = ? AND s.ip = ? AND s.created_at >= ? LIMIT 1"
)
# A refresh token past its expiry fails its `exp` check before any row is read.
PURGE_TOKENS = "DELETE FROM refresh_tokens WHERE expires_at < ?"
# Their tokens go with them (ON DELETE CASCADE); only the direct deletions are counted.
PURGE_SESSIONS = "DELETE FROM sessions WHERE revoked_at < ? OR expires_at < ?"


def revoke_live_of_user(
    connection: sqlite3.Connection, user_id: str, reason: str, now: str, keep: str | None
) -> int:
    """Inside the caller's transaction: end every live session of a user but `keep`."""
    return connection.execute(REVOKE_LIVE_OF_USER, (now, reason, user_id, keep, now)).rowcount


def _start(
    connection: sqlite3.Connection, session: Row, token: Row, audit: Sequence[AuditRecord]
) -> None:
    connection.execute(INSERT_SESSION, session)
    connection.execute(INSERT_TOKEN, token)
    insert_audit(connection, audit)


def _token(connection: sqlite3.Connection, token_id: str) -> RefreshTokenRecord | None:
    row = connection.execute(TOKEN_BY_ID, (token_id,)).fetchone()
    return None if row is None else token_from_row(row)


def _session(connection: sqlite3.Connection, sql: str, params: Row) -> SessionRecord | None:
    row = connection.execute(sql, params).fetchone()
    return None if row is None else session_from_row(row)


def _sessions(connection: sqlite3.Connection, sql: str, params: Row) -> list[SessionRecord]:
    return [session_from_row(row) for row in connection.execute(sql, params).fetchall()]


def _revoke(
    connection: sqlite3.Connection, sql: str, params: Row, audit: Sequence[AuditRecord]
) -> bool:
    if connection.execute(sql, params).rowcount != 1:
        rollback(connection)  # no such live session: nothing happened, nothing to audit
        return False
    insert_audit(connection, audit)
    return True


def _revoke_all(connection: sqlite3.Connection, params: Row, audit: Sequence[AuditRecord]) -> int:
    ended: int = connection.execute(REVOKE_UNREVOKED, params).rowcount
    insert_audit(connection, audit)
    return ended


def _seen_from(connection: sqlite3.Connection, username_key: str, ip: str, since: str) -> bool:
    return connection.execute(SEEN_FROM, (username_key, ip, since)).fetchone() is not None


def _purge(connection: sqlite3.Connection, now: str, ended_before: str) -> tuple[int, int]:
    tokens: int = connection.execute(PURGE_TOKENS, (now,)).rowcount
    sessions: int = connection.execute(PURGE_SESSIONS, (ended_before, ended_before)).rowcount
    return sessions, tokens


class SqliteSessionStore:
    """Starting, rotating, reading and revoking one session (point statements by key) run
    on the loop's connection; lists and purges on the thread's."""

    def __init__(self, thread: ConnectionThread, loop: LoopConnection) -> None:
        self._thread = thread
        self._loop = loop

    async def start(
        self,
        session: SessionRecord,
        first_token: RefreshTokenRecord,
        audit: Sequence[AuditRecord] = (),
    ) -> None:
        await self._loop.write(_start, session_params(session), token_params(first_token), audit)

    async def rotate(self, request: RotationRequest) -> Rotation:
        found = await self._loop.write(
            rotate,
            request.token_id,
            request.session_id.hex,
            request.user_id.hex,
            request.child_id,
            request.child_salt,
            time_text(request.now),
            time_text(request.now + request.refresh_ttl),
        )
        return outcome(found, request)

    async def refresh_token(self, token_id: str) -> RefreshTokenRecord | None:
        return await self._loop.call(_token, token_id)

    async def live(self, session_id: uuid.UUID, now: datetime) -> SessionRecord | None:
        return await self._loop.call(_session, LIVE_BY_ID, (uuid_text(session_id), time_text(now)))

    async def live_for_user(self, user_id: uuid.UUID, now: datetime) -> list[SessionRecord]:
        return await self._thread.call(
            _sessions, LIVE_FOR_USER, (uuid_text(user_id), time_text(now))
        )

    async def ended_for_user(
        self, user_id: uuid.UUID, since: datetime, limit: int = 100
    ) -> list[SessionRecord]:
        return await self._thread.call(
            _sessions, ENDED_FOR_USER, (uuid_text(user_id), time_text(since), limit)
        )

    async def all_live(self, now: datetime) -> list[SessionRecord]:
        return await self._thread.call(_sessions, ALL_LIVE, (time_text(now),))

    async def revoke(
        self, session_id: uuid.UUID, end: SessionEnd, *, owner: uuid.UUID | None = None
    ) -> bool:
        at = time_text(end.now)
        params: Row = (at, end.reason, uuid_text(session_id), at)
        if owner is None:
            return await self._loop.write(_revoke, REVOKE, params, end.audit)
        owned = (*params, uuid_text(owner))
        return await self._loop.write(_revoke, REVOKE_OWNED, owned, end.audit)

    async def revoke_all(
        self, user_id: uuid.UUID, end: SessionEnd, *, keep: uuid.UUID | None = None
    ) -> int:
        kept = None if keep is None else uuid_text(keep)
        params = (time_text(end.now), end.reason, uuid_text(user_id), kept)
        return await self._thread.write(_revoke_all, params, end.audit)

    async def seen_from(self, username_key: str, ip: str, since: datetime) -> bool:
        return await self._thread.call(_seen_from, username_key, ip, time_text(since))

    async def purge(self, now: datetime, ended_before: datetime) -> tuple[int, int]:
        return await self._thread.write(_purge, time_text(now), time_text(ended_before))
