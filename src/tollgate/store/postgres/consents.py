"""Consents: each operation one statement, its audit rows in it."""

from __future__ import annotations

import uuid

from tollgate.store.postgres import rows
from tollgate.store.postgres.audit import audit_arrays, insert_audit
from tollgate.store.postgres.pool import Connections
from tollgate.store.records import ConsentGrant, ConsentRecord, SessionEnd, merged_consent

_COLUMNS = rows.columns(rows.CONSENT)
_SELECT = f"SELECT {_COLUMNS} FROM consents"
_GET = f"{_SELECT} WHERE user_id = $1 AND client_id = $2"
_FOR_USER = f"{_SELECT} WHERE user_id = $1 ORDER BY granted_at DESC, client_id"
# ConsentGrant's rule, (held - asked) | chosen, on the row the upsert locks: two answers
# at once both count, one after the other. $3 (asked) and $4 (chosen) come normalized:
# sorted, one space apart, so string_to_array splits them exactly. COLLATE "C" sorts by
# code point, as Python's sorted() in merged_consent does.
_GRANT = f"""
WITH granted AS (
  INSERT INTO consents AS c ({_COLUMNS}) VALUES ($1, $2, $4, $5)
  ON CONFLICT (user_id, client_id) DO UPDATE SET
    scope = (
      SELECT coalesce(string_agg(s, ' ' ORDER BY s COLLATE "C"), '') FROM (
        (SELECT unnest(string_to_array(c.scope, ' '))
         EXCEPT SELECT unnest(string_to_array($3, ' ')))
        UNION SELECT unnest(string_to_array($4, ' '))
      ) AS merged (s)
    ),
    granted_at = excluded.granted_at
  RETURNING {_COLUMNS}
), audit AS ({insert_audit(6)})
SELECT * FROM granted
"""
# An answer to one consent page ($14: the granted_at it was shown, NULL for none held):
# recorded only while that is still what is held. The first answer's INSERT or UPDATE
# locks the row; a second one waits, then finds it taken (ON CONFLICT DO NOTHING) or
# changed (READ COMMITTED rechecks the UPDATE's WHERE on the new row) and writes nothing.
_ANSWER = f"""
WITH inserted AS (
  INSERT INTO consents ({_COLUMNS}) SELECT $1, $2, $4, $5 WHERE $14::timestamptz IS NULL
  ON CONFLICT (user_id, client_id) DO NOTHING
  RETURNING {_COLUMNS}
), updated AS (
  UPDATE consents AS c SET
    scope = (
      SELECT coalesce(string_agg(s, ' ' ORDER BY s COLLATE "C"), '') FROM (
        (SELECT unnest(string_to_array(c.scope, ' '))
         EXCEPT SELECT unnest(string_to_array($3, ' ')))
        UNION SELECT unnest(string_to_array($4, ' '))
      ) AS merged (s)
    ),
    granted_at = $5
  WHERE $14::timestamptz IS NOT NULL AND user_id = $1 AND client_id = $2
    AND granted_at = $14
  RETURNING {_COLUMNS}
), granted AS (
  SELECT * FROM inserted UNION ALL SELECT * FROM updated
), audit AS ({insert_audit(6, "EXISTS (SELECT FROM granted)")})
SELECT * FROM granted
"""
_REVOKE = f"""
WITH revoked AS (
  DELETE FROM consents WHERE user_id = $1 AND client_id = $2 RETURNING 1
), ended AS (
  UPDATE sessions SET revoked_at = $3, revoked_reason = $4
  WHERE EXISTS (SELECT FROM revoked) AND user_id = $1 AND client_id = $2
    AND revoked_at IS NULL AND expires_at > $3
  RETURNING 1
), audit AS ({insert_audit(5, "EXISTS (SELECT FROM revoked)")})
SELECT EXISTS (SELECT FROM revoked) AS revoked, (SELECT count(*) FROM ended) AS ended
"""


class PostgresConsentStore:
    def __init__(self, connections: Connections) -> None:
        self._db = connections

    async def grant(self, grant: ConsentGrant) -> ConsentRecord | None:
        args = (
            grant.user_id,
            grant.client_id,
            merged_consent("", "", grant.asked),
            merged_consent("", "", grant.chosen),
            grant.now,
            *audit_arrays(grant.audit),
        )
        if grant.answering is not None:
            return await self._db.one(rows.consent, _ANSWER, *args, grant.answering.granted_at)
        consent = await self._db.one(rows.consent, _GRANT, *args)
        assert consent is not None  # an upsert always returns its row
        return consent

    async def get(self, user_id: uuid.UUID, client_id: str) -> ConsentRecord | None:
        return await self._db.one(rows.consent, _GET, user_id, client_id)

    async def for_user(self, user_id: uuid.UUID) -> list[ConsentRecord]:
        return await self._db.all(rows.consent, _FOR_USER, user_id)

    async def revoke(self, user_id: uuid.UUID, client_id: str, end: SessionEnd) -> int | None:
        row = await self._db.fetchrow(
            _REVOKE, user_id, client_id, end.now, end.reason, *audit_arrays(end.audit)
        )
        assert row is not None  # the SELECT of aggregates always gives its one row
        ended: int = row["ended"]
        return ended if row["revoked"] else None
