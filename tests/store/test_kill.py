"""kill -9 under refresh load: a rotation is all or nothing, also when its process dies.

Processes (tests/store/rotate_forever.py) rotate a lineage each as fast as they can and
are killed with SIGKILL at random moments, three times over. Each time every lineage
must hold exactly one unused token (the newest), every other used and replaced by its
child, never both or neither of old and new valid; and the newest must rotate.
"""

from __future__ import annotations

import asyncio
import random
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.store.builders import REFRESH_TTL, T0, a_session, add_user
from tests.store.engines import DATABASE_ENGINES, settings_for
from tests.store.rotate_forever import lineage_id, step_time
from tollgate.store.engine import create_engine
from tollgate.store.records import (
    RefreshTokenRecord,
    Rotated,
    RotationRequest,
    SessionRecord,
    UserRecord,
)
from tollgate.store.stores import Stores

REPOSITORY = Path(__file__).resolve().parents[2]
ROUNDS = 3
PROCESSES = 4


async def rotate_until_killed(engine: str, url: str, session: SessionRecord, step: int) -> int:
    """Start the rotating process at `step`, kill -9 it after a random number of rotations;
    the last step it reported done."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.store.rotate_forever",
        engine,
        url,
        str(session.id),
        str(session.user_id),
        str(step),
        cwd=REPOSITORY,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    reported, target = step, step + random.randint(5, 60)
    try:
        while reported < target:
            line = await asyncio.wait_for(process.stdout.readline(), timeout=60)
            if not line:
                await process.wait()
                error = (await process.stderr.read()).decode()
                pytest.fail(f"the rotating process ended by itself:\n{error}")
            reported = int(line)
        # Somewhere in the next rotation (or between two).
        await asyncio.sleep(random.uniform(0, 0.005))
    finally:
        process.kill()  # SIGKILL
        await process.wait()
    return reported


async def walk_lineage(stores: Stores, session: SessionRecord) -> int:
    """Follow the lineage from its first token; the step of its one unused token."""
    step = 0
    while True:
        token = await stores.sessions.refresh_token(lineage_id(session.id, step))
        assert token is not None, f"step {step} is missing"
        if token.used_at is None:
            assert token.replaced_by is None
            break
        child_id = lineage_id(session.id, step + 1)
        assert token.replaced_by == child_id
        child = await stores.sessions.refresh_token(child_id)
        assert child is not None, f"step {step} was used but its child is missing"
        assert child.parent_id == token.id
        step += 1
    # No child was written without its parent being marked used.
    assert await stores.sessions.refresh_token(lineage_id(session.id, step + 1)) is None
    return step


async def count_refresh_tokens(url: str) -> int:
    engine = create_engine(settings_for(url))
    try:
        async with engine.connect() as connection:
            count = await connection.execute(text("SELECT count(*) FROM refresh_tokens"))
            return int(count.scalar_one())
    finally:
        await engine.dispose()


async def until_no_other_transaction(url: str) -> None:
    """On PostgreSQL, wait until the dead process's backend has finished: a COMMIT it
    received just before the kill may still land. (A dead SQLite process holds nothing.)"""
    if not url.startswith("postgresql"):
        return
    engine = create_engine(settings_for(url))
    busy = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND pid <> pg_backend_pid() AND state IS DISTINCT FROM 'idle'"
    )
    try:
        async with engine.connect() as connection:
            for _ in range(1000):
                if (await connection.execute(busy)).scalar_one() == 0:
                    return
                await connection.commit()  # a fresh snapshot of pg_stat_activity
                await asyncio.sleep(0.01)
        pytest.fail("the killed process's transaction never ended")
    finally:
        await engine.dispose()


async def start_lineage(stores: Stores, user: UserRecord) -> SessionRecord:
    session = a_session(user)
    first = RefreshTokenRecord(
        id=lineage_id(session.id, 0),
        session_id=session.id,
        issued_at=T0,
        expires_at=T0 + REFRESH_TTL,
    )
    await stores.sessions.start(session, first)
    return session


@pytest.mark.parametrize("engine", DATABASE_ENGINES)
async def test_kill_9_under_rotation_never_leaves_both_or_neither_valid(
    engine: str, store_url: str, stores: Stores
) -> None:
    user = await add_user(stores)
    # Several processes at once, each on a lineage of its own: more kills per second of
    # test, and writers that contend for the database as replicas do.
    sessions = [await start_lineage(stores, user) for _ in range(PROCESSES)]
    newest = [0] * PROCESSES
    for _ in range(ROUNDS):
        reported = await asyncio.gather(
            *(
                rotate_until_killed(engine, store_url, session, step)
                for session, step in zip(sessions, newest, strict=True)
            )
        )
        await until_no_other_transaction(store_url)

        newest = [await walk_lineage(stores, session) for session in sessions]
        for done, seen in zip(newest, reported, strict=True):
            # Every rotation the process saw return was committed (it may have done more).
            assert done >= seen
        assert await count_refresh_tokens(store_url) == sum(n + 1 for n in newest)

    for session, step in zip(sessions, newest, strict=True):
        result = await stores.sessions.rotate(
            RotationRequest(
                lineage_id(session.id, step),
                session.id,
                user.id,
                lineage_id(session.id, step + 1),
                b"\x01" * 32,
                T0 + step_time(step + 1),
                REFRESH_TTL,
            )
        )
        assert isinstance(result, Rotated)
        assert await walk_lineage(stores, session) == step + 1
