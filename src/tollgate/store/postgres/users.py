"""Users: each change, with the sessions it ends and its audit rows, in one statement."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Sequence
from datetime import datetime

from tollgate.store.postgres import rows
from tollgate.store.postgres.audit import audit_arrays, insert_audit
from tollgate.store.postgres.pool import Connections
from tollgate.store.records import AuditRecord, PasswordChange, UserRecord

_SELECT = f"SELECT {rows.columns(rows.USER)} FROM users"

_CREATE = f"""
WITH audit AS ({insert_audit(len(rows.USER) + 1)})
INSERT INTO users ({rows.columns(rows.USER)})
VALUES ({rows.placeholders(rows.USER)})
"""

# Audit rows below are written only if the user exists: they describe a change that,
# for a user deleted meanwhile, did not happen.
_SET_PASSWORD = f"""
WITH changed AS (
  UPDATE users SET password_hash = $2, password_changed_at = $3 WHERE id = $1 RETURNING id
), ended AS (
  UPDATE sessions SET revoked_at = $3, revoked_reason = $4
  WHERE $4::text IS NOT NULL AND user_id IN (SELECT id FROM changed)
    AND revoked_at IS NULL AND expires_at > $3 AND ($5::uuid IS NULL OR id <> $5)
  RETURNING 1
), audit AS ({insert_audit(6, "EXISTS (SELECT FROM changed)")})
SELECT count(*) FROM ended
"""

_SET_DISABLED = f"""
WITH changed AS (
  UPDATE users SET disabled = $2 WHERE id = $1 RETURNING id
), ended AS (
  UPDATE sessions SET revoked_at = $3, revoked_reason = 'account_disabled'
  WHERE $2 AND user_id IN (SELECT id FROM changed) AND revoked_at IS NULL AND expires_at > $3
  RETURNING 1
), audit AS ({insert_audit(4, "EXISTS (SELECT FROM changed)")})
SELECT count(*) FROM ended
"""

_SET_SCOPE = f"""
WITH changed AS (UPDATE users SET scope = $2 WHERE id = $1 RETURNING id),
audit AS ({insert_audit(3, "EXISTS (SELECT FROM changed)")})
SELECT count(*) FROM changed
"""

# Sessions and refresh tokens go with the user by ON DELETE CASCADE; audit rows stay.
_DELETE = f"""
WITH deleted AS (DELETE FROM users WHERE id = $1 RETURNING id),
audit AS ({insert_audit(2, "EXISTS (SELECT FROM deleted)")})
SELECT count(*) FROM deleted
"""


# The verified one first (at most one: uq_users_verified_email_key), then oldest first.
_BY_EMAIL = (
    f"{_SELECT} WHERE email_key = $1 "
    "ORDER BY email_verified_at IS NULL, email_verified_at, created_at LIMIT 20"
)
_SET_EMAIL = f"""
WITH changed AS (
  UPDATE users SET email = $2, email_key = $3, email_verified_at = NULL WHERE id = $1
  RETURNING id
), audit AS ({insert_audit(4, "EXISTS (SELECT FROM changed)")})
SELECT count(*) FROM changed
"""
_VERIFY_EMAIL = f"""
WITH changed AS (
  UPDATE users SET email_verified_at = COALESCE(email_verified_at, $3)
  WHERE id = $1 AND email = $2 RETURNING id
), audit AS ({insert_audit(4, "EXISTS (SELECT FROM changed)")})
SELECT count(*) FROM changed
"""


class PostgresUserStore:
    def __init__(self, connections: Connections) -> None:
        self._db = connections

    async def create(self, user: UserRecord, audit: Sequence[AuditRecord] = ()) -> None:
        await self._db.execute(_CREATE, *rows.params(user, rows.USER), *audit_arrays(audit))

    async def by_id(self, user_id: uuid.UUID) -> UserRecord | None:
        return await self._db.one(rows.user, f"{_SELECT} WHERE id = $1", user_id)

    async def by_username_key(self, username_key: str) -> UserRecord | None:
        return await self._db.one(rows.user, f"{_SELECT} WHERE username_key = $1", username_key)

    async def list(self) -> list[UserRecord]:
        return await self._db.all(rows.user, f"{_SELECT} ORDER BY created_at")

    async def set_password(self, change: PasswordChange) -> int:
        ended: int = await self._db.fetchval(
            _SET_PASSWORD,
            change.user_id,
            change.password_hash,
            change.now,
            change.end_sessions,
            change.keep_session,
            *audit_arrays(change.audit),
        )
        return ended

    async def upgrade_password_hash(self, user_id: uuid.UUID, old_hash: str, new_hash: str) -> bool:
        # Only if unchanged meanwhile: a concurrent password change wins over a rehash.
        changed = await self._db.execute(
            "UPDATE users SET password_hash = $3 WHERE id = $1 AND password_hash = $2",
            user_id,
            old_hash,
            new_hash,
        )
        return changed == 1

    async def set_disabled(
        self, user_id: uuid.UUID, disabled: bool, now: datetime, audit: Sequence[AuditRecord] = ()
    ) -> int:
        ended: int = await self._db.fetchval(
            _SET_DISABLED, user_id, disabled, now, *audit_arrays(audit)
        )
        return ended

    async def set_scope(
        self, user_id: uuid.UUID, scope: str, audit: Sequence[AuditRecord] = ()
    ) -> None:
        await self._db.fetchval(_SET_SCOPE, user_id, scope, *audit_arrays(audit))

    async def delete(self, user_id: uuid.UUID, audit: Sequence[AuditRecord] = ()) -> bool:
        deleted: int = await self._db.fetchval(_DELETE, user_id, *audit_arrays(audit))
        return deleted == 1

    async def by_email_key(self, email_key: str) -> builtins.list[UserRecord]:
        return await self._db.all(rows.user, _BY_EMAIL, email_key)

    async def set_email(
        self,
        user_id: uuid.UUID,
        email: str | None,
        email_key: str | None,
        audit: Sequence[AuditRecord] = (),
    ) -> bool:
        changed: int = await self._db.fetchval(
            _SET_EMAIL, user_id, email, email_key, *audit_arrays(audit)
        )
        return changed == 1

    async def verify_email(
        self, user_id: uuid.UUID, email: str, now: datetime, audit: Sequence[AuditRecord] = ()
    ) -> bool:
        # Conflict("email") from uq_users_verified_email_key (postgres/errors.py).
        changed: int = await self._db.fetchval(
            _VERIFY_EMAIL, user_id, email, now, *audit_arrays(audit)
        )
        return changed == 1
