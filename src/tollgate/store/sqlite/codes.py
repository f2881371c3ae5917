"""Authorization codes: issuing and exchanging one are point statements by key, on the
loop's connection (the sign-in of an app is a hot path, as a login); purges on the thread.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime

from tollgate.store.records import (
    AuditRecord,
    AuthorizationCodeRecord,
    CodeExchange,
    CodeUse,
    Consumed,
    code_use,
)
from tollgate.store.sqlite.audit import insert_audit
from tollgate.store.sqlite.codecs import (
    CODE_COLUMNS,
    Row,
    code_from_row,
    code_params,
    session_params,
    time_text,
    token_params,
)
from tollgate.store.sqlite.connection import ConnectionThread, rollback
from tollgate.store.sqlite.loop import LoopConnection
from tollgate.store.sqlite.sessions import INSERT_SESSION, INSERT_TOKEN

INSERT_CODE = f"INSERT INTO authorization_codes ({CODE_COLUMNS}) VALUES ({', '.join('?' * 13)})"
CODE_BY_ID = f"SELECT {CODE_COLUMNS} FROM authorization_codes WHERE id = ?"
USE_CODE = (
    "UPDATE authorization_codes SET used_at = ?, session_id = ? WHERE id = ? AND used_at IS NULL"
)
PURGE_CODES = "DELETE FROM authorization_codes WHERE expires_at < ?"


def _add(connection: sqlite3.Connection, code: Row, audit: Sequence[AuditRecord]) -> None:
    connection.execute(INSERT_CODE, code)
    insert_audit(connection, audit)


def _by_id(connection: sqlite3.Connection, code_id: str) -> AuthorizationCodeRecord | None:
    row = connection.execute(CODE_BY_ID, (code_id,)).fetchone()
    return None if row is None else code_from_row(row)


def _consume(connection: sqlite3.Connection, exchange: CodeExchange) -> CodeUse:
    """Inside one write transaction (BEGIN IMMEDIATE holds the write lock from the read
    on, so no other connection can use the code between the check and the update)."""
    outcome = code_use(_by_id(connection, exchange.code_id), exchange)
    if not isinstance(outcome, Consumed):
        rollback(connection)
        return outcome
    now = time_text(exchange.now)
    connection.execute(USE_CODE, (now, exchange.session.id.hex, exchange.code_id))
    connection.execute(INSERT_SESSION, session_params(exchange.session))
    if exchange.first_token is not None:
        connection.execute(INSERT_TOKEN, token_params(exchange.first_token))
    insert_audit(connection, exchange.audit)
    return outcome


def _purge(connection: sqlite3.Connection, before: str) -> int:
    return connection.execute(PURGE_CODES, (before,)).rowcount


class SqliteAuthorizationCodeStore:
    def __init__(self, thread: ConnectionThread, loop: LoopConnection) -> None:
        self._thread = thread
        self._loop = loop

    async def add(self, code: AuthorizationCodeRecord, audit: Sequence[AuditRecord] = ()) -> None:
        await self._loop.write(_add, code_params(code), audit)

    async def consume(self, exchange: CodeExchange) -> CodeUse:
        return await self._loop.write(_consume, exchange)

    async def by_id(self, code_id: str) -> AuthorizationCodeRecord | None:
        return await self._loop.call(_by_id, code_id)

    async def purge(self, before: datetime) -> int:
        return await self._thread.write(_purge, time_text(before))
