"""The refresh: a refresh token used once, in one statement (one round trip).

One data-modifying CTE claims the token, touches the session and inserts the child; the
same statement reads back what `Rotated`, `AlreadyUsed` or `NotUsable` needs.

The claim is the compare-and-set: `UPDATE ... WHERE used_at IS NULL`. A concurrent caller
with the same token waits on the row lock, then PostgreSQL re-checks the condition on the
row as committed (READ COMMITTED's EvalPlanQual) and claims nothing. The session and user
conditions are part of the same UPDATE's WHERE, so a token of an ended session is never
claimed: `NotUsable` writes nothing, without a rollback.

Every part of one statement reads the snapshot taken when it started. So when the claim
lost to a caller that committed after that snapshot, the read-back still shows the token
unused and its child absent: only then (a race, rare) the statement runs again, in a new
snapshot that shows the winner's child (or, had the winner rolled back, claims the token).
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime

from asyncpg import Record

from tollgate.store.postgres import rows
from tollgate.store.postgres.pool import Connections
from tollgate.store.records import AlreadyUsed, NotUsable, Rotated, Rotation, RotationRequest

NOT_KNOWN = "The refresh token is not known."
ENDED = "The session has ended."

# $1 token id, $2 session id, $3 user id, $4 child id, $5 child salt, $6 now, $7 TTL.
# The claim reaches each row by its primary key. Its links are compared with IS NOT
# DISTINCT FROM, which no index serves: with `t.session_id = $2` the planner could (and
# did) find the token through the index on session_id, scanning every token the session
# ever had (one per refresh): 600 µs of server CPU per rotation after 3,000 refreshes,
# growing, against 110 µs flat by primary key.
# Read back, one row: the child just inserted (c_), the token as read (t_), its child as
# read (o_), the session (s_) and the user (u_); a part is all NULL when there is none.
# The token and its child are read only when nothing was claimed (`c.id IS NULL`): a
# rotation, the usual case, needs neither, and skipping them spares the server two index
# probes and the client decoding sixteen columns.
_ROTATE = f"""
WITH claimed AS (
  UPDATE refresh_tokens t SET used_at = $6, replaced_by = $4
  FROM sessions s, users u
  WHERE t.id = $1 AND t.used_at IS NULL AND t.session_id IS NOT DISTINCT FROM s.id
    AND s.id = $2 AND s.revoked_at IS NULL AND s.expires_at > $6
    AND u.id = $3 AND s.user_id IS NOT DISTINCT FROM u.id AND NOT u.disabled
  RETURNING s.expires_at
), touched AS (
  UPDATE sessions SET last_used_at = $6 WHERE id = $2 AND EXISTS (SELECT FROM claimed)
), child AS (
  INSERT INTO refresh_tokens (id, session_id, parent_id, derivation_salt, issued_at, expires_at)
  SELECT $4, $2, $1, $5::bytea, $6, LEAST($6 + $7::interval, expires_at) FROM claimed
  RETURNING {rows.columns(rows.TOKEN)}
)
SELECT {rows.columns(rows.TOKEN, "c", "c_")}, {rows.columns(rows.TOKEN, "t", "t_")},
  {rows.columns(rows.TOKEN, "o", "o_")}, {rows.columns(rows.SESSION, "s", "s_")},
  {rows.columns(rows.USER, "u", "u_")}
FROM (SELECT) AS one
LEFT JOIN child c ON true
LEFT JOIN refresh_tokens t ON t.id = $1 AND c.id IS NULL
LEFT JOIN refresh_tokens o ON o.id = t.replaced_by
LEFT JOIN sessions s ON s.id = $2
LEFT JOIN users u ON u.id = $3
"""

# A race needs one more statement; a third would take a token that keeps reading unused
# although its claim fails, which no writer does.
_ATTEMPTS = 3


async def rotate(db: Connections, request: RotationRequest) -> Rotation:
    # $1 to $7, in the order of the statement's parameters.
    params = (
        request.token_id,
        request.session_id,
        request.user_id,
        request.child_id,
        request.child_salt,
        request.now,
        request.refresh_ttl,
    )
    for _ in range(_ATTEMPTS):
        row = await db.fetchrow(_ROTATE, *params)
        assert row is not None
        found = _classify(row, request.session_id, request.user_id, request.now)
        if found is not None:
            return found
    return NotUsable(NOT_KNOWN)


def _classify(
    row: Record, session_id: uuid.UUID, user_id: uuid.UUID, now: datetime
) -> Rotation | None:
    """What the read-back row says, in the order the service always checked: token of
    this session, then live session of this enabled user, then used or not. None: the
    token reads unused although the claim failed (a concurrent claim: try again)."""
    if row["c_id"] is not None:
        # The session as read before the touch, which set only last_used_at.
        session = dataclasses.replace(rows.session(row, "s_"), last_used_at=now)
        return Rotated(session=session, user=rows.user(row, "u_"), child=rows.token(row, "c_"))
    if row["t_id"] is None or row["t_session_id"] != session_id:
        return NotUsable(NOT_KNOWN)
    if row["s_id"] is None or row["u_id"] is None:
        return NotUsable(ENDED)
    session, user = rows.session(row, "s_"), rows.user(row, "u_")
    live = session.revoked_at is None and session.expires_at > now
    if not live or session.user_id != user_id or user.disabled:
        return NotUsable(ENDED)
    token = rows.token(row, "t_")
    if token.used_at is None:
        return None
    child = rows.token(row, "o_") if row["o_id"] is not None else None
    return AlreadyUsed(token=token, child=child, session=session, user=user)
