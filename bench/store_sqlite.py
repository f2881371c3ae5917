"""SessionStore.rotate on the SQLite store beside the SQLAlchemy path it replaces.

Prints µs per rotation (one refresh's database work) for: plain sqlite3 (bench.floor's
floor: the SQL alone, on the calling thread), the SQLite store (one hop to its
connection's thread), and `Grants._rotate` (SQLAlchemy ORM on aiosqlite, today's path);
one caller at a time and 16 callers at once (16 sessions, each its own chain); see
`Timing` for the two columns. With --hop: the hop alone (`SELECT 1`), by the two
mechanisms considered for it.

    .venv/bin/python -m bench.store_sqlite [--hop]

Measured when it was written (2 cores shared with four other jobs, load 4-6): the plain
SQL 34 µs (25 µs CPU); the store 70-74 µs a call (82 µs CPU) with one caller, 121 µs
wall and 96 µs CPU per rotation with 16; `Grants._rotate` 2.1-6.5 ms a call (2.1 ms
CPU), 2.4-10 ms per rotation with 16.
"""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import jwt
from tollgate.store.models import utcnow

from bench import floor
from bench.floor import sqlite_rotation
from tollgate.services.container import Services
from tollgate.services.grants import NO_CLIENT
from tollgate.services.passwords import PasswordHasher
from tollgate.settings import Settings
from tollgate.store import migrate
from tollgate.store.engine import create_engine
from tollgate.store.records import RefreshTokenRecord, Rotated, SessionRecord, UserRecord
from tollgate.store.sqlite import open_sqlite
from tollgate.store.sqlite.connection import ConnectionThread
from tollgate.store.stores import Stores

ROUNDS = 2000
CALLERS = 16
PASSWORD = "violet-harbor-kettle-42"
Step = Callable[[int], Awaitable[None]]  # one rotation on chain number n


class Timing(NamedTuple):
    """µs per operation: `wall` is the median call with one caller (this shared machine's
    load shows in a mean as long tails), wall time ÷ operations with several; `cpu` is
    the process's CPU time (every thread) ÷ operations, steadier under others' load."""

    wall: float
    cpu: float


async def per_op_us(step: Step, callers: int, rounds: int = ROUNDS) -> Timing:
    async def chain(n: int, count: int) -> None:
        for _ in range(count):
            await step(n)

    await asyncio.gather(*(chain(n, rounds // 10 // callers) for n in range(callers)))
    cpu_start, start = time.process_time(), time.perf_counter()
    if callers == 1:
        calls = []
        for _ in range(rounds):
            call_start = time.perf_counter()
            await step(0)
            calls.append(time.perf_counter() - call_start)
        wall = statistics.median(calls)
    else:
        await asyncio.gather(*(chain(n, rounds // callers) for n in range(callers)))
        wall = (time.perf_counter() - start) / rounds
    return Timing(wall * 1e6, (time.process_time() - cpu_start) / rounds * 1e6)


async def migrated(url: str) -> Settings:
    settings = Settings(database_url=url, issuer="http://bench.test")
    engine = create_engine(settings)
    await migrate.upgrade(engine)
    await engine.dispose()
    return settings


async def store_chains(stores: Stores, chains: int) -> Step:
    now = datetime.now(UTC)
    user = UserRecord(
        uuid.uuid4(), "minsu", "minsu", "minsu", None, "h", "profile", False, now, now
    )
    await stores.users.create(user)
    current: list[tuple[uuid.UUID, str]] = []
    for _ in range(chains):
        session = SessionRecord(uuid.uuid4(), user.id, "profile", now, now, now + timedelta(1))
        token = secrets.token_hex(32)
        await stores.sessions.start(session, RefreshTokenRecord(token, session.id, now, now))
        current.append((session.id, token))

    async def step(n: int) -> None:
        session_id, token = current[n]
        child = secrets.token_hex(32)
        outcome = await stores.sessions.rotate(
            token, session_id, user.id, child, secrets.token_bytes(16), utcnow(), timedelta(1)
        )
        assert isinstance(outcome, Rotated)
        current[n] = (session_id, child)

    return step


async def sqlite_store(folder: str, callers: int) -> Timing:
    stores = await open_sqlite(await migrated(f"sqlite+aiosqlite:///{folder}/store-{callers}.db"))
    try:
        return await per_op_us(await store_chains(stores, callers), callers)
    finally:
        await stores.close()


async def sqlalchemy_path(folder: str, callers: int) -> Timing:
    settings = await migrated(f"sqlite+aiosqlite:///{folder}/orm-{callers}.db")
    services = await Services.open(settings, PasswordHasher(), migrate_first=True)
    await services.start()
    user = await services.accounts.join("minsu", PASSWORD)
    current: list[tuple[uuid.UUID, str]] = []
    for _ in range(callers):
        pair = await services.grants.start_session(user, None, NO_CLIENT)
        claims = jwt.decode(pair.refresh_token, options={"verify_signature": False})
        current.append((pair.session_id, claims["jti"]))

    async def step(n: int) -> None:
        session_id, jti = current[n]
        rotation = await services.grants._rotate(jti, session_id, user.id, utcnow())
        assert rotation.failure is None
        current[n] = (session_id, rotation.jti)

    try:
        return await per_op_us(step, callers, ROUNDS // 2)
    finally:
        await services.close()


def floor_timing(folder: str) -> Timing:
    cpu_start = time.process_time()
    wall = sqlite_rotation(Path(folder))  # a mean over bench.floor's rounds and warm-up
    cpu = (time.process_time() - cpu_start) / (floor.ROUNDS + floor.ROUNDS // 10) * 1e6
    return Timing(wall, cpu)


def rotation_rows() -> list[tuple[str, Timing]]:
    with tempfile.TemporaryDirectory() as folder:
        rows = [("plain sqlite3, caller's thread (bench.floor; mean)", floor_timing(folder))]
        for callers in (1, CALLERS):
            store = asyncio.run(sqlite_store(folder, callers))
            rows.append((f"SQLite store, {callers} caller(s)", store))
            orm = asyncio.run(sqlalchemy_path(folder, callers))
            rows.append((f"SQLAlchemy Grants._rotate, {callers} caller(s)", orm))
    return rows


class ExecutorHop:
    """The alternative not taken: a one-thread pool and run_in_executor."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(1, initializer=self._connect)

    def _connect(self) -> None:
        self._local.connection = sqlite3.connect(":memory:", isolation_level=None)

    def _select(self) -> object:
        return self._local.connection.execute("SELECT 1").fetchone()

    async def select(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._pool, self._select)


def _select(connection: sqlite3.Connection) -> object:
    return connection.execute("SELECT 1").fetchone()


async def hop_rows() -> list[tuple[str, Timing]]:
    queue_hop, executor_hop = ConnectionThread(":memory:"), ExecutorHop()

    async def by_queue(_n: int) -> None:
        await queue_hop.call(_select)

    async def by_executor(_n: int) -> None:
        await executor_hop.select()

    rows = []
    for callers in (1, CALLERS):
        rows.append(
            (
                f"SimpleQueue + call_soon_threadsafe, {callers} caller(s)",
                await per_op_us(by_queue, callers, 20_000),
            )
        )
        rows.append(
            (
                f"ThreadPoolExecutor + run_in_executor, {callers} caller(s)",
                await per_op_us(by_executor, callers, 20_000),
            )
        )
    await queue_hop.close()
    return rows


def main() -> None:
    rows = asyncio.run(hop_rows()) if "--hop" in sys.argv else rotation_rows()
    print(f"{'µs per operation':<58} {'wall':>8} {'CPU':>8}")
    for name, timing in rows:
        print(f"{name:<58} {timing.wall:>8.1f} {timing.cpu:>8.1f}")


if __name__ == "__main__":
    main()
