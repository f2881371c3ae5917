"""Rotate one lineage of refresh tokens as fast as the store allows, until killed.

    python -m tests.store.rotate_forever ENGINE DATABASE_URL SESSION_ID USER_ID STEP

Starts at the token `lineage_id(session, STEP)` and prints each step it has rotated to,
once `rotate` has returned. The kill -9 test kills it at a random moment.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import sys
import uuid
from datetime import timedelta

from tests.store.builders import REFRESH_TTL, T0
from tollgate.settings import Settings
from tollgate.store.records import Rotated, RotationRequest
from tollgate.store.stores import Stores

# Not from tests.conftest: that imports the whole app, and this process must start fast.
ISSUER = "http://tollgate.test"
OPENERS = {
    "sqlite": ("tollgate.store.sqlite", "open_sqlite"),
    "postgresql": ("tollgate.store.postgres", "open_postgres"),
}


def lineage_id(session_id: uuid.UUID, step: int) -> str:
    """The id of the token at `step` of the session's lineage (step 0: the first token)."""
    return hashlib.sha256(f"{session_id}/{step}".encode()).hexdigest()


def step_time(step: int) -> timedelta:
    return timedelta(milliseconds=step)


async def rotate_forever(
    engine: str, url: str, session_id: uuid.UUID, user_id: uuid.UUID, step: int
) -> None:
    module_name, function_name = OPENERS[engine]
    opener = getattr(importlib.import_module(module_name), function_name)
    stores: Stores = await opener(Settings(database_url=url, issuer=ISSUER))
    while True:
        result = await stores.sessions.rotate(
            RotationRequest(
                lineage_id(session_id, step),
                session_id,
                user_id,
                lineage_id(session_id, step + 1),
                step.to_bytes(32, "big"),
                T0 + step_time(step + 1),
                REFRESH_TTL,
            )
        )
        if not isinstance(result, Rotated):
            raise SystemExit(f"step {step}: {result}")
        step += 1
        sys.stdout.write(f"{step}\n")
        sys.stdout.flush()


if __name__ == "__main__":
    engine, url, session_id, user_id, step = sys.argv[1:]
    asyncio.run(rotate_forever(engine, url, uuid.UUID(session_id), uuid.UUID(user_id), int(step)))
