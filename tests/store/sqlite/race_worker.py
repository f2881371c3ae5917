"""One of two processes racing on one SQLite file (test_two_processes.py starts it).

argv: database URL, go-file, the time to rotate at (ISO 8601), session id, user id, then
the refresh-token ids to rotate. Opens the stores, says so in a file `ready.<pid>` beside
the go-file, waits for the go-file, then at once rotates every token and starts 50
sessions; prints one JSON object: {"rotations": {token id: outcome name}, "started": n}.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tollgate.settings import Settings
from tollgate.store.records import RefreshTokenRecord, RotationRequest, SessionRecord
from tollgate.store.sqlite import open_sqlite
from tollgate.store.stores import Stores

SESSIONS = 50


async def start_one(stores: Stores, user_id: uuid.UUID) -> None:
    now = datetime.now(UTC)
    session = SessionRecord(
        id=uuid.uuid4(),
        user_id=user_id,
        scope="profile",
        created_at=now,
        last_used_at=now,
        expires_at=now + timedelta(days=1),
    )
    token = RefreshTokenRecord(
        id=secrets.token_hex(32), session_id=session.id, issued_at=now, expires_at=now
    )
    await stores.sessions.start(session, token)


async def main(
    url: str, go: Path, now: datetime, session_id: uuid.UUID, user_id: uuid.UUID, ids: list[str]
) -> None:
    stores = await open_sqlite(Settings(database_url=url))
    await asyncio.to_thread(go.with_name(f"ready.{os.getpid()}").touch)
    deadline = time.monotonic() + 60
    while not await asyncio.to_thread(go.exists):  # both processes begin together
        if time.monotonic() > deadline:
            raise TimeoutError("no go")
        await asyncio.sleep(0.005)
    outcomes = await asyncio.gather(
        *(
            stores.sessions.rotate(
                RotationRequest(
                    token_id, session_id, user_id, secrets.token_hex(32), b"s", now, timedelta(1)
                )
            )
            for token_id in ids
        ),
        *(start_one(stores, user_id) for _ in range(SESSIONS)),
    )
    await stores.close()
    rotations = {t: type(o).__name__ for t, o in zip(ids, outcomes, strict=False)}
    print(json.dumps({"rotations": rotations, "started": len(outcomes) - len(ids)}))


if __name__ == "__main__":
    url, go, at, sid, uid, *token_ids = sys.argv[1:]
    now = datetime.fromisoformat(at)
    asyncio.run(main(url, Path(go), now, uuid.UUID(sid), uuid.UUID(uid), token_ids))
