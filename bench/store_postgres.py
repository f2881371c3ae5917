"""The refresh's rotation on PostgreSQL through the store, beside the same work done
statement by statement, in one run on the real schema and one token chain.

For each variant: wall µs per rotation (median and best of batches; the variants take
turns in short batches, so the load of a shared machine falls on all alike), and the CPU
it cost the PostgreSQL backend and this process, which the load does not change much.

- store: `SessionStore.rotate` of store/postgres, one data-modifying CTE, one round trip;
- store's CTE on a pool with asyncpg's default release reset (one more round trip);
- a PL/pgSQL function doing the same (success path only), one round trip too;
- statement by statement in a transaction, as the SQLAlchemy code did: BEGIN, claim,
  session with user, touch, insert child, COMMIT: six round trips;
- `SessionStore.live`, the gateway's read.

    .venv/bin/python -m bench.store_postgres    # needs Debian's postgresql
"""

from __future__ import annotations

import asyncio
import os
import secrets
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import asyncpg
from asyncpg import Record
from tests.support.postgres import PostgresServer

from tollgate.settings import Settings
from tollgate.store import migrate
from tollgate.store.engine import create_engine
from tollgate.store.postgres import open_postgres
from tollgate.store.postgres.pool import asyncpg_dsn
from tollgate.store.postgres.rotation import _ROTATE
from tollgate.store.records import (
    RefreshTokenRecord,
    Rotated,
    RotationRequest,
    SessionRecord,
    UserRecord,
)
from tollgate.store.stores import Stores

BATCHES = 20
BATCH = 100
TTL = timedelta(days=14)
TICKS = os.sysconf("SC_CLK_TCK")

ROTATE_FUNCTION = """
CREATE FUNCTION bench_rotate(p_token varchar, p_session uuid, p_user uuid, p_child varchar,
  p_salt bytea, p_now timestamptz, p_ttl interval)
RETURNS TABLE (child_expires timestamptz, scope varchar, username varchar)
LANGUAGE plpgsql AS $$
DECLARE
  v_expires timestamptz;
BEGIN
  UPDATE refresh_tokens t SET used_at = p_now, replaced_by = p_child
  FROM sessions s, users u
  WHERE t.id = p_token AND t.used_at IS NULL AND t.session_id IS NOT DISTINCT FROM s.id
    AND s.id = p_session AND s.revoked_at IS NULL AND s.expires_at > p_now
    AND u.id = p_user AND s.user_id IS NOT DISTINCT FROM u.id AND NOT u.disabled
  RETURNING s.expires_at INTO v_expires;
  IF NOT FOUND THEN
    RETURN;  -- the bench times the success path only
  END IF;
  UPDATE sessions SET last_used_at = p_now WHERE id = p_session;
  INSERT INTO refresh_tokens (id, session_id, parent_id, derivation_salt, issued_at, expires_at)
  VALUES (p_child, p_session, p_token, p_salt, p_now, LEAST(p_now + p_ttl, v_expires));
  RETURN QUERY SELECT LEAST(p_now + p_ttl, v_expires), s.scope, u.username
    FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = p_session;
END $$;
"""

Work = Callable[[], Awaitable[object]]


@dataclass
class Timing:
    batches: list[float] = field(default_factory=list)  # wall µs per op, per batch
    server_cpu: float = 0.0  # seconds, all batches
    client_cpu: float = 0.0


def backend_cpu(pids: list[int]) -> float:
    """CPU seconds the given PostgreSQL backends have used (utime + stime)."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / TICKS


async def interleaved(
    variants: dict[str, Work], pids: Callable[[], list[int]]
) -> dict[str, Timing]:
    for work in variants.values():
        for _ in range(BATCH):
            await work()
    timings = {name: Timing() for name in variants}
    for _ in range(BATCHES):
        for name, work in variants.items():
            backends = pids()
            server, client, start = backend_cpu(backends), time.process_time(), time.perf_counter()
            for _ in range(BATCH):
                await work()
            timing = timings[name]
            timing.batches.append((time.perf_counter() - start) / BATCH * 1e6)
            timing.client_cpu += time.process_time() - client
            timing.server_cpu += backend_cpu(backends) - server
    return timings


async def seed(stores: Stores) -> tuple[UserRecord, SessionRecord, list[str]]:
    now = datetime.now(UTC)
    user = UserRecord(
        uuid.uuid4(), "minsu", "minsu", "minsu", None, "hash", "profile", False, now, now
    )
    await stores.users.create(user)
    session = SessionRecord(uuid.uuid4(), user.id, "profile", now, now, now + 30 * TTL)
    first = RefreshTokenRecord(secrets.token_hex(32), session.id, now, now + TTL)
    await stores.sessions.start(session, first)
    return user, session, [first.id]


async def _no_reset(_connection: object) -> None:
    pass


async def measure(url: str) -> dict[str, Timing]:
    settings = Settings(
        database_url=url, issuer="http://bench.test", db_pool_size=1, db_max_overflow=0
    )
    engine = create_engine(settings)
    await migrate.upgrade(engine)
    await engine.dispose()
    stores = await open_postgres(settings)
    user, session, current = await seed(stores)
    dsn = asyncpg_dsn(url)
    lean: asyncpg.Pool[Record] = await asyncpg.create_pool(
        dsn, min_size=1, max_size=1, reset=_no_reset
    )
    default: asyncpg.Pool[Record] = await asyncpg.create_pool(dsn, min_size=1, max_size=1)
    await lean.execute(ROTATE_FUNCTION)
    watcher = await asyncpg.connect(dsn)
    own = await watcher.fetchval("SELECT pg_backend_pid()")

    backend_pids: list[int] = []

    async def refresh_pids() -> None:
        rows = await watcher.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_type = 'client backend' AND pid <> $1",
            own,
        )
        backend_pids[:] = [row["pid"] for row in rows]

    def step() -> tuple[str, str, datetime]:
        return current[0], secrets.token_hex(32), datetime.now(UTC)

    async def store_rotate() -> None:
        token, child, now = step()
        rotation = await stores.sessions.rotate(
            RotationRequest(token, session.id, user.id, child, b"salt", now, TTL)
        )
        assert isinstance(rotation, Rotated)
        current[0] = child

    async def cte_default_reset() -> None:
        token, child, now = step()
        row = await default.fetchrow(_ROTATE, token, session.id, user.id, child, b"salt", now, TTL)
        assert row is not None
        assert row["c_id"] == child
        current[0] = child

    async def function() -> None:
        token, child, now = step()
        row = await lean.fetchrow(
            "SELECT * FROM bench_rotate($1, $2, $3, $4, $5, $6, $7)",
            *(token, session.id, user.id, child, b"salt", now, TTL),
        )
        assert row is not None
        current[0] = child

    async def statement_by_statement() -> None:
        token, child, now = step()
        async with lean.acquire() as db, db.transaction():
            owner = await db.fetchval(
                "UPDATE refresh_tokens SET used_at = $2, replaced_by = $3 "
                "WHERE id = $1 AND used_at IS NULL RETURNING session_id",
                *(token, now, child),
            )
            found = await db.fetchrow(
                "SELECT s.*, u.username, u.disabled FROM sessions s "
                "JOIN users u ON u.id = s.user_id "
                "WHERE s.id = $1 AND s.revoked_at IS NULL AND s.expires_at > $2",
                *(owner, now),
            )
            assert found is not None
            await db.execute("UPDATE sessions SET last_used_at = $2 WHERE id = $1", owner, now)
            await db.execute(
                "INSERT INTO refresh_tokens "
                "(id, session_id, parent_id, derivation_salt, issued_at, expires_at) "
                "VALUES ($1, $2, $3, $4, $5, $6)",
                *(child, owner, token, b"salt", now, min(now + TTL, found["expires_at"])),
            )
        current[0] = child

    async def live() -> None:
        assert await stores.sessions.live(session.id, datetime.now(UTC)) is not None

    await refresh_pids()
    timings = await interleaved(
        {
            "rotate: store (one CTE, one round trip)": store_rotate,
            "rotate: same CTE, asyncpg's default reset": cte_default_reset,
            "rotate: PL/pgSQL function (success path)": function,
            "rotate: statement by statement (6 trips)": statement_by_statement,
            "live: store (the gateway's read)": live,
        },
        lambda: backend_pids,
    )
    await watcher.close()
    await lean.close()
    await default.close()
    await stores.close()
    return timings


def main() -> None:
    postgres = PostgresServer()
    postgres.start()
    try:
        timings = asyncio.run(measure(postgres.new_database()))
    finally:
        postgres.remove()
    ops = BATCHES * BATCH
    print(f"{'µs per operation':<44} {'median':>7} {'best':>6} {'server CPU':>10} {'our CPU':>8}")
    for name, t in timings.items():
        print(
            f"{name:<44} {statistics.median(t.batches):>7.0f} {min(t.batches):>6.0f} "
            f"{t.server_cpu / ops * 1e6:>10.0f} {t.client_cpu / ops * 1e6:>8.0f}"
        )


if __name__ == "__main__":
    main()
