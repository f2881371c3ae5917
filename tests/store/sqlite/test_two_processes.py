"""Two processes on one file (`tollgate serve --workers 2`): writes serialize on SQLite's
lock at BEGIN IMMEDIATE, nothing fails with "database is locked", and each refresh token
is still used exactly once."""

from __future__ import annotations

import asyncio
import json
import secrets
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.store.sqlite.race_worker import SESSIONS
from tests.store.sqlite.test_thread import NOW, session_with_token, user_record
from tollgate.settings import Settings
from tollgate.store.stores import Stores

TOKENS = 300
WORKER = Path(__file__).with_name("race_worker.py")


def ready_workers(folder: Path) -> int:
    return len(list(folder.glob("ready.*")))


async def test_two_processes_rotate_each_token_once(
    stores: Stores, settings: Settings, tmp_path: Path
) -> None:
    user = user_record("minsu")
    await stores.users.create(user)
    session_id, first = await session_with_token(stores, user)
    # More unused tokens of the session: the store only inserts them by rotation.
    ids = [first, *(secrets.token_hex(32) for _ in range(TOKENS - 1))]
    await stores.close()
    database = Path(settings.database_url.removeprefix("sqlite+aiosqlite:///"))
    raw = sqlite3.connect(database)
    with raw:
        raw.executemany(
            "INSERT INTO refresh_tokens (id, session_id, issued_at, expires_at) "
            "VALUES (?, ?, '2026-05-01 12:00:00.000000', '2026-05-02 12:00:00.000000')",
            [(t, session_id.hex) for t in ids[1:]],
        )
    raw.close()

    go = tmp_path / "go"
    argv = [str(WORKER), settings.database_url, str(go), NOW.isoformat(), str(session_id)]
    argv += [str(user.id), *ids]
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable, *argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    deadline = time.monotonic() + 60
    while await asyncio.to_thread(ready_workers, tmp_path) < 2:  # start them together
        assert time.monotonic() < deadline, "the workers did not start"
        await asyncio.sleep(0.01)
    go.touch()
    results = []
    for worker in workers:
        out, err = await asyncio.wait_for(worker.communicate(), timeout=120)
        assert worker.returncode == 0, err.decode()
        results.append(json.loads(out))

    for token_id in ids:
        outcomes = sorted(r["rotations"][token_id] for r in results)
        assert outcomes == ["AlreadyUsed", "Rotated"], (token_id, outcomes)
    assert [r["started"] for r in results] == [SESSIONS, SESSIONS]
    raw = sqlite3.connect(database)
    try:
        children = raw.execute("SELECT count(*) FROM refresh_tokens WHERE parent_id IS NOT NULL")
        assert children.fetchone()[0] == TOKENS
        assert raw.execute("SELECT count(*) FROM sessions").fetchone()[0] == 1 + 2 * SESSIONS
    finally:
        raw.close()
