"""B6: a million users, bulk-inserted straight into a migrated SQLite database."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime
from pathlib import Path

from tollgate.services.passwords import PasswordHasher, normalize_password

BATCH = 50_000


def seed_users(database: Path, count: int, password: str) -> None:
    """All share one real argon2id hash (hashing a million takes hours, not the point)."""
    hashed = PasswordHasher()._argon2.hash(normalize_password(password))
    # The formats SQLAlchemy writes for these columns on SQLite (Uuid as hex, naive UTC).
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
    with sqlite3.connect(database) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=OFF")
        for start in range(0, count, BATCH):
            rows = [
                (uuid.uuid4().hex, f"user{i:07d}", f"user{i:07d}", hashed, "profile", now, now)
                for i in range(start, min(start + BATCH, count))
            ]
            db.executemany(
                "INSERT INTO users (id, username, username_key, password_hash, scope, disabled,"
                " created_at, password_changed_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?)",
                rows,
            )
