"""The refresh stays a handful of primary-key probes however long a session has lived:
each refresh adds a token row to its session, and an index path by session_id (or by
user_id for the user's sessions) would read them all."""

from __future__ import annotations

import asyncpg
import pytest

from tests.store.postgres.data import new_session, new_user, utcnow
from tollgate.store.postgres.pool import asyncpg_dsn
from tollgate.store.postgres.rotation import _ROTATE
from tollgate.store.stores import Stores


@pytest.mark.parametrize("mode", ["force_generic_plan", "force_custom_plan"])
async def test_rotation_reaches_rows_by_primary_key_only(
    stores: Stores, pg_url: str, mode: str
) -> None:
    user = await new_user(stores)
    session, first = await new_session(stores, user)
    for _ in range(50):
        await new_session(stores, user)
    db = await asyncpg.connect(asyncpg_dsn(pg_url))
    try:
        # Statistics taken while the session was young (as a plan cached early, or a
        # table autovacuum has not analyzed since), then 5,000 refreshes later.
        await db.execute("ANALYZE")
        await db.execute(
            "INSERT INTO refresh_tokens (id, session_id, issued_at, expires_at, used_at) "
            "SELECT md5(n::text), $1, $2, $2, $2 FROM generate_series(1, 5000) AS n",
            session.id,
            utcnow(),
        )
        await db.execute(f"SET plan_cache_mode = {mode}")
        await db.execute(f"PREPARE rotate AS {_ROTATE}")
        plan = "\n".join(
            row[0]
            for row in await db.fetch(
                f"EXPLAIN EXECUTE rotate('{first.id}', '{session.id}', '{user.id}', 'child', "
                "'\\x00', now(), '14 days')"
            )
        )
    finally:
        await db.close()

    assert "ix_refresh_tokens_session_id" not in plan, plan
    assert "ix_sessions_user_id" not in plan, plan
    # (Small tables, here sessions and users, may be read whole: one page.)
    assert "Seq Scan on refresh_tokens" not in plan, plan
