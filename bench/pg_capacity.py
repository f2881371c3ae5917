"""What one refresh costs PostgreSQL, and what one core of it sustains.

Runs N rotations through the PostgreSQL store on one connection and reads, for them
alone: the statements the server executed (pg_stat_database.xact_commit, one per
autocommit statement), the WAL written (pg_stat_wal), and the CPU the serving backend
used (/proc). From the CPU per refresh: refreshes a second one PostgreSQL core sustains,
and how many active users that serves when each refreshes once per access-token lifetime.

    .venv/bin/python -m bench.pg_capacity        # needs Debian's postgresql
"""

from __future__ import annotations

import asyncio
import os
import secrets
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
from tests.support.postgres import PostgresServer

from tollgate.settings import Settings
from tollgate.store import migrate
from tollgate.store.engine import create_engine
from tollgate.store.postgres import open_postgres
from tollgate.store.postgres.pool import asyncpg_dsn
from tollgate.store.records import (
    RefreshTokenRecord,
    Rotated,
    RotationRequest,
    SessionRecord,
    UserRecord,
)

ROTATIONS = 3000
ACCESS_TTL = 600  # the default TOLLGATE_ACCESS_TTL


def backend_cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(url: str) -> dict[str, float]:
    engine = create_engine(Settings(database_url=url))
    await migrate.upgrade(engine)
    await engine.dispose()
    settings = Settings(database_url=url, db_pool_size=1, db_max_overflow=0)
    stores = await open_postgres(settings)
    watcher = await asyncpg.connect(asyncpg_dsn(url))
    try:
        now = datetime.now(UTC)
        user = UserRecord(uuid.uuid4(), "bench", "bench", "bench", None, "x", "profile",
                          False, now, now)  # fmt: skip
        await stores.users.create(user)
        session = SessionRecord(uuid.uuid4(), user.id, "profile", now, now,
                                now + timedelta(days=90))  # fmt: skip
        token = RefreshTokenRecord(secrets.token_hex(32), session.id, now, now + timedelta(days=1))
        await stores.sessions.start(session, token)
        pid = await stores.database._connections.fetchval("SELECT pg_backend_pid()")  # type: ignore[attr-defined]
        name = url.rsplit("/", 1)[1]
        commits = "SELECT xact_commit FROM pg_stat_database WHERE datname = $1"
        await watcher.execute("SELECT pg_stat_reset_shared('wal')")
        await watcher.execute("SELECT pg_stat_clear_snapshot()")
        wal_before = await watcher.fetchrow("SELECT wal_bytes, wal_records FROM pg_stat_wal")
        commits_before = await watcher.fetchval(commits, name)
        cpu_before = backend_cpu_seconds(pid)
        current = token.id
        for _ in range(ROTATIONS):
            child = secrets.token_hex(32)
            outcome = await stores.sessions.rotate(
                RotationRequest(
                    current,
                    session.id,
                    user.id,
                    child,
                    b"salt",
                    datetime.now(UTC),
                    timedelta(days=1),
                )
            )
            assert isinstance(outcome, Rotated)
            current = child
        cpu = backend_cpu_seconds(pid) - cpu_before
        await stores.close()  # a backend that ends flushes its statistics
        await asyncio.sleep(1.5)
        await watcher.execute("SELECT pg_stat_clear_snapshot()")
        wal_after = await watcher.fetchrow("SELECT wal_bytes, wal_records FROM pg_stat_wal")
        # The watcher's own statements and the stats read count too; they are few.
        statements = await watcher.fetchval(commits, name) - commits_before
        return {
            "statements": statements / ROTATIONS,
            "wal_bytes": float(wal_after["wal_bytes"] - wal_before["wal_bytes"]) / ROTATIONS,
            "wal_records": (wal_after["wal_records"] - wal_before["wal_records"]) / ROTATIONS,
            "cpu_us": cpu / ROTATIONS * 1e6,
        }
    finally:
        await watcher.close()
        await stores.close()  # (again, harmless: closing is idempotent)


def main() -> None:
    server = PostgresServer()
    server.start()
    try:
        cost = asyncio.run(measure(server.new_database()))
    finally:
        server.remove()
    per_core = 1e6 / cost["cpu_us"]
    print(f"rotations measured:            {ROTATIONS}")
    print(f"statements per refresh:        {cost['statements']:.2f}")
    print(f"WAL per refresh:               {cost['wal_bytes']:.0f} bytes, "
          f"{cost['wal_records']:.1f} records")  # fmt: skip
    print(f"PostgreSQL CPU per refresh:    {cost['cpu_us']:.0f} µs")
    print(f"refreshes/s per PG core:       {per_core:,.0f}")
    print(f"active users per PG core:      {per_core * ACCESS_TTL:,.0f} "
          f"(one refresh per {ACCESS_TTL} s access lifetime)")  # fmt: skip


if __name__ == "__main__":
    main()
