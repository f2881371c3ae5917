"""Sessions and refresh tokens; the rotation itself is in rotation.py."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from tollgate.store.postgres import rows
from tollgate.store.postgres.audit import audit_arrays, insert_audit
from tollgate.store.postgres.pool import Connections
from tollgate.store.postgres.rotation import rotate
from tollgate.store.records import (
    AuditRecord,
    RefreshTokenRecord,
    Rotation,
    RotationRequest,
    SessionEnd,
    SessionRecord,
)

_SELECT = f"SELECT {rows.columns(rows.SESSION)} FROM sessions"
# The gateway's check of every access token it has not cached: one primary-key probe.
_LIVE = f"{_SELECT} WHERE id = $1 AND revoked_at IS NULL AND expires_at > $2"
_LIVE_FOR_USER = f"""{_SELECT} WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2
ORDER BY last_used_at DESC"""
_ENDED_FOR_USER = f"""{_SELECT} WHERE user_id = $1 AND revoked_at >= $2
ORDER BY revoked_at DESC LIMIT $3"""
_ALL_LIVE = f"{_SELECT} WHERE revoked_at IS NULL AND expires_at > $1 ORDER BY created_at"
_REFRESH_TOKEN = f"SELECT {rows.columns(rows.TOKEN)} FROM refresh_tokens WHERE id = $1"

# The login: session, first token and audit row in one statement. The token's foreign
# key is checked at the end of the statement, when the session row is there.
_TOKEN_AT = len(rows.SESSION) + 1
_START = f"""
WITH new_session AS (
  INSERT INTO sessions ({rows.columns(rows.SESSION)})
  VALUES ({rows.placeholders(rows.SESSION)})
), audit AS ({insert_audit(_TOKEN_AT + len(rows.TOKEN))})
INSERT INTO refresh_tokens ({rows.columns(rows.TOKEN)})
VALUES ({rows.placeholders(rows.TOKEN, _TOKEN_AT)})
"""

_REVOKE = f"""
WITH revoked AS (
  UPDATE sessions SET revoked_at = $3, revoked_reason = $2
  WHERE id = $1 AND revoked_at IS NULL AND expires_at > $3 AND ($4::uuid IS NULL OR user_id = $4)
  RETURNING id
), audit AS ({insert_audit(5, "EXISTS (SELECT FROM revoked)")})
SELECT count(*) FROM revoked
"""

_REVOKE_ALL = f"""
WITH revoked AS (
  UPDATE sessions SET revoked_at = $3, revoked_reason = $2
  WHERE user_id = $1 AND revoked_at IS NULL AND ($4::uuid IS NULL OR id <> $4)
  RETURNING id
), audit AS ({insert_audit(5)})
SELECT count(*) FROM revoked
"""

_SEEN_FROM = """
SELECT EXISTS (
  SELECT FROM sessions s JOIN users u ON u.id = s.user_id
  WHERE u.username_key = $1 AND s.ip = $2 AND s.created_at >= $3
)
"""

# Tokens past their expiry, and sessions ended long ago (their tokens go with them by
# ON DELETE CASCADE, not counted: as before, the count is of expired tokens).
_PURGE = """
WITH tokens AS (DELETE FROM refresh_tokens WHERE expires_at < $1 RETURNING 1),
ended AS (DELETE FROM sessions WHERE revoked_at < $2 OR expires_at < $2 RETURNING 1)
SELECT (SELECT count(*) FROM ended), (SELECT count(*) FROM tokens)
"""


class PostgresSessionStore:
    def __init__(self, connections: Connections) -> None:
        self._db = connections

    async def start(
        self,
        session: SessionRecord,
        first_token: RefreshTokenRecord,
        audit: Sequence[AuditRecord] = (),
    ) -> None:
        await self._db.execute(
            _START,
            *rows.params(session, rows.SESSION),
            *rows.params(first_token, rows.TOKEN),
            *audit_arrays(audit),
        )

    async def rotate(self, request: RotationRequest) -> Rotation:
        return await rotate(self._db, request)

    async def refresh_token(self, token_id: str) -> RefreshTokenRecord | None:
        return await self._db.one(rows.token, _REFRESH_TOKEN, token_id)

    async def live(self, session_id: uuid.UUID, now: datetime) -> SessionRecord | None:
        return await self._db.one(rows.session, _LIVE, session_id, now)

    async def live_for_user(self, user_id: uuid.UUID, now: datetime) -> list[SessionRecord]:
        return await self._db.all(rows.session, _LIVE_FOR_USER, user_id, now)

    async def ended_for_user(
        self, user_id: uuid.UUID, since: datetime, limit: int = 100
    ) -> list[SessionRecord]:
        found = await self._db.fetch(_ENDED_FOR_USER, user_id, since, limit)
        return [rows.session(row) for row in found]

    async def all_live(self, now: datetime) -> list[SessionRecord]:
        return await self._db.all(rows.session, _ALL_LIVE, now)

    async def revoke(
        self, session_id: uuid.UUID, end: SessionEnd, *, owner: uuid.UUID | None = None
    ) -> bool:
        revoked: int = await self._db.fetchval(
            _REVOKE, session_id, end.reason, end.now, owner, *audit_arrays(end.audit)
        )
        return revoked == 1

    async def revoke_all(
        self, user_id: uuid.UUID, end: SessionEnd, *, keep: uuid.UUID | None = None
    ) -> int:
        revoked: int = await self._db.fetchval(
            _REVOKE_ALL, user_id, end.reason, end.now, keep, *audit_arrays(end.audit)
        )
        return revoked

    async def seen_from(self, username_key: str, ip: str, since: datetime) -> bool:
        seen: bool = await self._db.fetchval(_SEEN_FROM, username_key, ip, since)
        return seen

    async def purge(self, now: datetime, ended_before: datetime) -> tuple[int, int]:
        row = await self._db.fetchrow(_PURGE, now, ended_before)
        assert row is not None
        return row[0], row[1]
