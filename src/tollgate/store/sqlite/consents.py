"""Consents: point statements by (user, client) on the loop's connection (the authorization
endpoint reads one on every sign-in); a user's list on the thread."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Sequence

from tollgate.store.records import (
    AuditRecord,
    ConsentGrant,
    ConsentRecord,
    SessionEnd,
    merged_consent,
)
from tollgate.store.sqlite.audit import insert_audit
from tollgate.store.sqlite.codecs import (
    CONSENT_COLUMNS,
    consent_from_row,
    time_text,
    uuid_text,
)
from tollgate.store.sqlite.connection import ConnectionThread, rollback
from tollgate.store.sqlite.loop import LoopConnection

SELECT_CONSENTS = f"SELECT {CONSENT_COLUMNS} FROM consents"
CONSENT = f"{SELECT_CONSENTS} WHERE user_id = ? AND client_id = ?"
FOR_USER = f"{SELECT_CONSENTS} WHERE user_id = ? ORDER BY granted_at DESC, client_id"
UPSERT = (
    f"INSERT INTO consents ({CONSENT_COLUMNS}) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (user_id, client_id) DO UPDATE SET "
    "scope = excluded.scope, granted_at = excluded.granted_at"
)
DELETE = "DELETE FROM consents WHERE user_id = ? AND client_id = ?"
END_SESSIONS = (
    "UPDATE sessions SET revoked_at = ?, revoked_reason = ? "
    "WHERE user_id = ? AND client_id = ? AND revoked_at IS NULL AND expires_at > ?"
)


def _get(connection: sqlite3.Connection, user_id: str, client_id: str) -> ConsentRecord | None:
    row = connection.execute(CONSENT, (user_id, client_id)).fetchone()
    return None if row is None else consent_from_row(row)


def _grant(connection: sqlite3.Connection, grant: ConsentGrant) -> ConsentRecord | None:
    """Inside one write transaction: the read of what is held and the upsert see the same
    row (BEGIN IMMEDIATE), so two answers at once both count, one after the other, or,
    answering one page, only the first."""
    user_id = uuid_text(grant.user_id)
    held = _get(connection, user_id, grant.client_id)
    if grant.answering is not None and grant.answering.granted_at != (
        held.granted_at if held else None
    ):
        rollback(connection)
        return None
    consent = ConsentRecord(
        user_id=grant.user_id,
        client_id=grant.client_id,
        scope=merged_consent(held.scope if held else "", grant.asked, grant.chosen),
        granted_at=grant.now,
    )
    connection.execute(
        UPSERT, (user_id, grant.client_id, consent.scope, time_text(consent.granted_at))
    )
    insert_audit(connection, grant.audit)
    return consent


def _for_user(connection: sqlite3.Connection, user_id: str) -> list[ConsentRecord]:
    return [consent_from_row(row) for row in connection.execute(FOR_USER, (user_id,))]


def _revoke(
    connection: sqlite3.Connection, user_id: str, client_id: str, reason: str, now: str,
    audit: Sequence[AuditRecord],
) -> int | None:  # fmt: skip
    if connection.execute(DELETE, (user_id, client_id)).rowcount != 1:
        rollback(connection)  # there was none: nothing happened, nothing to audit
        return None
    ended: int = connection.execute(END_SESSIONS, (now, reason, user_id, client_id, now)).rowcount
    insert_audit(connection, audit)
    return ended


class SqliteConsentStore:
    def __init__(self, thread: ConnectionThread, loop: LoopConnection) -> None:
        self._thread = thread
        self._loop = loop

    async def grant(self, grant: ConsentGrant) -> ConsentRecord | None:
        return await self._loop.write(_grant, grant)

    async def get(self, user_id: uuid.UUID, client_id: str) -> ConsentRecord | None:
        return await self._loop.call(_get, uuid_text(user_id), client_id)

    async def for_user(self, user_id: uuid.UUID) -> list[ConsentRecord]:
        return await self._thread.call(_for_user, uuid_text(user_id))

    async def revoke(self, user_id: uuid.UUID, client_id: str, end: SessionEnd) -> int | None:
        # On the thread: a user's sessions of one app are few, but not bounded.
        return await self._thread.write(
            _revoke, uuid_text(user_id), client_id, end.reason, time_text(end.now), end.audit
        )
