"""Authorization codes: issuing one is one statement with its audit row; exchanging one is
one statement that claims the code by compare-and-set and starts the session with its
first refresh token and audit rows (data-modifying CTEs, one transaction)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from tollgate.store.postgres import rows
from tollgate.store.postgres.audit import audit_arrays, insert_audit
from tollgate.store.postgres.pool import Connections
from tollgate.store.records import (
    AuditRecord,
    AuthorizationCodeRecord,
    CodeExchange,
    CodeUse,
    Consumed,
    RefreshTokenRecord,
    StoreUnavailable,
    code_use,
)

_SELECT = f"SELECT {rows.columns(rows.CODE)} FROM authorization_codes"
_BY_ID = f"{_SELECT} WHERE id = $1"
_ADD = f"""
WITH audit AS ({insert_audit(len(rows.CODE) + 1)})
INSERT INTO authorization_codes ({rows.columns(rows.CODE)})
VALUES ({rows.placeholders(rows.CODE)})
"""

_SESSION_AT = 7  # $7.. the session's columns, then the first token's, then the audit rows
_TOKEN_AT = _SESSION_AT + len(rows.SESSION)
_AUDIT_AT = _TOKEN_AT + len(rows.TOKEN)
# `found` is the row as the statement's snapshot saw it, before the claim. Under READ
# COMMITTED a concurrent claim that committed first makes this claim's UPDATE re-check its
# WHERE on the new row version and match nothing, while `found` may still show the code
# unused: the caller then reads the row again (see `consume`). The INSERT ... SELECTs take
# their parameters' types from the columns; the session id is $6, also the claim's mark.
_CONSUME = f"""
WITH found AS ({_BY_ID}),
claimed AS (
  UPDATE authorization_codes SET used_at = $5, session_id = $6
  WHERE id = $1 AND used_at IS NULL AND expires_at > $5
    AND client_id = $2 AND redirect_uri = $3 AND code_challenge = $4
  RETURNING id
), new_session AS (
  INSERT INTO sessions ({rows.columns(rows.SESSION)})
  SELECT {rows.placeholders(rows.SESSION, _SESSION_AT)} FROM claimed
), new_token AS (
  INSERT INTO refresh_tokens ({rows.columns(rows.TOKEN)})
  SELECT {rows.placeholders(rows.TOKEN, _TOKEN_AT)} FROM claimed
  WHERE ${_TOKEN_AT}::varchar IS NOT NULL
), audit AS ({insert_audit(_AUDIT_AT, "EXISTS (SELECT FROM claimed)")})
SELECT found.*, EXISTS (SELECT FROM claimed) AS won FROM found
"""
_NO_TOKEN = (None,) * len(rows.TOKEN)
_PURGE = "DELETE FROM authorization_codes WHERE expires_at < $1"
# A claim lost to an exchange that then failed (its statement rolled back) leaves the code
# unused: try again, a bounded number of times.
_ATTEMPTS = 3


def _token_params(token: RefreshTokenRecord | None) -> tuple[object, ...]:
    return _NO_TOKEN if token is None else rows.params(token, rows.TOKEN)


class PostgresAuthorizationCodeStore:
    def __init__(self, connections: Connections) -> None:
        self._db = connections

    async def add(self, code: AuthorizationCodeRecord, audit: Sequence[AuditRecord] = ()) -> None:
        await self._db.execute(_ADD, *rows.params(code, rows.CODE), *audit_arrays(audit))

    async def consume(self, exchange: CodeExchange) -> CodeUse:
        for _ in range(_ATTEMPTS):
            row = await self._db.fetchrow(
                _CONSUME,
                exchange.code_id,
                exchange.client_id,
                exchange.redirect_uri,
                exchange.code_challenge,
                exchange.now,
                exchange.session.id,
                *rows.params(exchange.session, rows.SESSION),
                *_token_params(exchange.first_token),
                *audit_arrays(exchange.audit),
            )
            found = None if row is None else rows.code(row)
            outcome = code_use(found, exchange)
            if row is None or row["won"] or not isinstance(outcome, Consumed):
                return outcome
            # Seen unused, yet not claimed: another exchange claimed it meanwhile. A new
            # statement sees its commit (and the session it started, to revoke).
            outcome = code_use(await self.by_id(exchange.code_id), exchange)
            if not isinstance(outcome, Consumed):
                return outcome
        raise StoreUnavailable("The code was claimed by exchanges that failed; try again.")

    async def by_id(self, code_id: str) -> AuthorizationCodeRecord | None:
        return await self._db.one(rows.code, _BY_ID, code_id)

    async def purge(self, before: datetime) -> int:
        return await self._db.execute(_PURGE, before)
