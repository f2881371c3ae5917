"""The floor of a refresh: each part of the work timed alone, beside the whole, in one run.

Prints µs per operation for: one ES256 verify, two ES256 signs (PyJWT, and
cryptography directly as TokenIssuer signs), the rotation's SQL in
plain sqlite3 (one WAL transaction) and in asyncpg (statement by statement, and as one
round trip), and Tollgate's own `Grants.refresh` in-process on each database. What the
whole costs beyond the sum of its parts is the way the store is reached.

    .venv/bin/python -m bench.floor    # needs Debian's postgresql (./scripts/bench installs it)
"""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from tests.support.postgres import PostgresServer

from tollgate.services.container import Services
from tollgate.services.grants import NO_CLIENT
from tollgate.services.passwords import PasswordHasher
from tollgate.settings import Settings
from tollgate.tokens import signing
from tollgate.verify import jws

ROUNDS = 2000
PASSWORD = "violet-harbor-kettle-42"


def per_op_us(work: Callable[[], object], rounds: int = ROUNDS) -> float:
    for _ in range(rounds // 10):
        work()
    start = time.perf_counter()
    for _ in range(rounds):
        work()
    return (time.perf_counter() - start) / rounds * 1e6


async def per_op_us_async(work: Callable[[], Awaitable[object]], rounds: int = ROUNDS) -> float:
    for _ in range(rounds // 10):
        await work()
    start = time.perf_counter()
    for _ in range(rounds):
        await work()
    return (time.perf_counter() - start) / rounds * 1e6


def crypto_parts() -> tuple[float, float, float]:
    key = ec.generate_private_key(ec.SECP256R1())
    token = jwt.encode({"sub": "x", "exp": 2_000_000_000}, key, algorithm="ES256")
    head, body, sig = token.split(".")
    data = f"{head}.{body}".encode()
    signature = jws._b64(sig)
    public = key.public_key()
    verify = per_op_us(lambda: jws.verify_signature("ES256", public, data, signature))
    sign_two = per_op_us(
        lambda: (
            jwt.encode({"sub": "x"}, key, algorithm="ES256"),
            jwt.encode({"sub": "y"}, key, algorithm="ES256"),
        )
    )
    # What TokenIssuer does now: the same tokens, signed with cryptography directly.
    sign_two_direct = per_op_us(
        lambda: (
            signing.sign({"sub": "x"}, "ES256", key, "kid", "at+jwt"),
            signing.sign({"sub": "y"}, "ES256", key, "kid", "rt+jwt"),
        )
    )
    return verify, sign_two, sign_two_direct


SQLITE_SCHEMA = """
CREATE TABLE users (id TEXT PRIMARY KEY, username TEXT, scope TEXT, disabled INTEGER);
CREATE TABLE sessions (id TEXT PRIMARY KEY, user_id TEXT, scope TEXT, last_used_at REAL,
  expires_at REAL, revoked_at REAL);
CREATE TABLE refresh_tokens (id TEXT PRIMARY KEY, session_id TEXT, parent_id TEXT,
  issued_at REAL, expires_at REAL, used_at REAL, replaced_by TEXT);
"""


def sqlite_rotation(folder: Path) -> float:
    db = sqlite3.connect(folder / "floor.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(SQLITE_SCHEMA)
    user, session = str(uuid.uuid4()), str(uuid.uuid4())
    db.execute("INSERT INTO users VALUES (?, 'minsu', 'profile', 0)", (user,))
    db.execute("INSERT INTO sessions VALUES (?, ?, 'profile', 0, 9e12, NULL)", (session, user))
    current = [secrets.token_hex(32)]
    db.execute(
        "INSERT INTO refresh_tokens VALUES (?, ?, NULL, 0, 9e12, NULL, NULL)", (current[0], session)
    )

    def rotate() -> None:
        child, now = secrets.token_hex(32), time.time()
        db.execute("BEGIN IMMEDIATE")
        claimed = db.execute(
            "UPDATE refresh_tokens SET used_at = ?, replaced_by = ? "
            "WHERE id = ? AND used_at IS NULL RETURNING session_id",
            (now, child, current[0]),
        ).fetchone()
        found = db.execute(
            "SELECT s.scope, u.username FROM sessions s JOIN users u ON u.id = s.user_id "
            "WHERE s.id = ? AND s.revoked_at IS NULL AND s.expires_at > ?",
            (claimed[0], now),
        ).fetchone()
        assert found is not None
        db.execute("UPDATE sessions SET last_used_at = ? WHERE id = ?", (now, claimed[0]))
        db.execute(
            "INSERT INTO refresh_tokens VALUES (?, ?, ?, ?, ?, NULL, NULL)",
            (child, claimed[0], current[0], now, now + 1e6),
        )
        db.execute("COMMIT")
        current[0] = child

    return per_op_us(rotate)


PG_ROTATE_ONE_TRIP = """
WITH claimed AS (
  UPDATE refresh_tokens SET used_at = $2, replaced_by = $3
  WHERE id = $1 AND used_at IS NULL RETURNING session_id
), live AS (
  UPDATE sessions s SET last_used_at = $2 FROM claimed c, users u
  WHERE s.id = c.session_id AND u.id = s.user_id AND s.revoked_at IS NULL
    AND s.expires_at > $2 AND NOT u.disabled
  RETURNING s.id, s.scope, u.username
), child AS (
  INSERT INTO refresh_tokens (id, session_id, parent_id, issued_at, expires_at)
  SELECT $3, id, $1, $2, $2 + 1e6 FROM live RETURNING id
)
SELECT live.scope, live.username FROM live
"""


async def postgres_rotation(url: str) -> tuple[float, float]:
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    await connection.execute(
        SQLITE_SCHEMA.replace("INTEGER", "BOOLEAN").replace("REAL", "DOUBLE PRECISION")
    )
    user, session = uuid.uuid4().hex, uuid.uuid4().hex
    await connection.execute("INSERT INTO users VALUES ($1, 'minsu', 'profile', false)", user)
    await connection.execute(
        "INSERT INTO sessions VALUES ($1, $2, 'profile', 0, 9e12, NULL)", session, user
    )
    current = [secrets.token_hex(32)]
    await connection.execute(
        "INSERT INTO refresh_tokens VALUES ($1, $2, NULL, 0, 9e12, NULL, NULL)", current[0], session
    )

    async def statement_by_statement() -> None:
        child, now = secrets.token_hex(32), time.time()
        async with connection.transaction():
            sid = await connection.fetchval(
                "UPDATE refresh_tokens SET used_at = $1, replaced_by = $2 "
                "WHERE id = $3 AND used_at IS NULL RETURNING session_id",
                now,
                child,
                current[0],
            )
            found = await connection.fetchrow(
                "SELECT s.scope, u.username FROM sessions s JOIN users u ON u.id = s.user_id "
                "WHERE s.id = $1 AND s.revoked_at IS NULL AND s.expires_at > $2",
                sid,
                now,
            )
            assert found is not None
            await connection.execute(
                "UPDATE sessions SET last_used_at = $1 WHERE id = $2", now, sid
            )
            await connection.execute(
                "INSERT INTO refresh_tokens VALUES ($1, $2, $3, $4, $5, NULL, NULL)",
                child,
                sid,
                current[0],
                now,
                now + 1e6,
            )
        current[0] = child

    async def one_round_trip() -> None:
        child, now = secrets.token_hex(32), time.time()
        found = await connection.fetchrow(PG_ROTATE_ONE_TRIP, current[0], now, child)
        assert found is not None
        current[0] = child

    many = await per_op_us_async(statement_by_statement)
    one = await per_op_us_async(one_round_trip)
    await connection.close()
    return many, one


async def tollgate_refresh(database_url: str) -> tuple[float, float]:
    """µs per `Grants.refresh`: wall, and CPU (of every thread of this process)."""
    settings = Settings(database_url=database_url, issuer="http://bench.test")
    services = await Services.open(settings, PasswordHasher(), migrate_first=True)
    await services.start()
    user = await services.accounts.join("minsu", PASSWORD)
    pair = [await services.grants.start_session(user, None, NO_CLIENT)]

    async def refresh() -> None:
        pair[0] = await services.grants.refresh(pair[0].refresh_token, None)

    cpu_started = time.process_time()
    wall = await per_op_us_async(refresh, ROUNDS // 2)
    cpu = (time.process_time() - cpu_started) / (ROUNDS // 2 + ROUNDS // 20) * 1e6
    await services.close()
    return wall, cpu


def main() -> None:
    verify, sign_two, sign_two_direct = crypto_parts()
    with tempfile.TemporaryDirectory() as folder:
        sqlite_sql = sqlite_rotation(Path(folder))
        sqlite_whole, sqlite_cpu = asyncio.run(
            tollgate_refresh(f"sqlite+aiosqlite:///{folder}/t.db")
        )
    postgres = PostgresServer()
    postgres.start()
    try:
        pg_many, pg_one = asyncio.run(postgres_rotation(postgres.new_database()))
        pg_whole, pg_cpu = asyncio.run(tollgate_refresh(postgres.new_database()))
    finally:
        postgres.remove()
    parts = verify + sign_two_direct
    rows = [
        ("ES256 verify (one refresh token)", verify),
        ("ES256 sign x2 (access + refresh token), PyJWT", sign_two),
        ("ES256 sign x2, cryptography directly (tokens/signing)", sign_two_direct),
        ("rotation SQL, sqlite3, one WAL transaction", sqlite_sql),
        ("rotation SQL, asyncpg, statement by statement", pg_many),
        ("rotation SQL, asyncpg, one round trip (CTE)", pg_one),
        ("Grants.refresh in-process, SQLite (wall)", sqlite_whole),
        ("Grants.refresh in-process, SQLite (CPU)", sqlite_cpu),
        ("Grants.refresh in-process, PostgreSQL (wall)", pg_whole),
        ("Grants.refresh in-process, PostgreSQL (CPU, Tollgate's side)", pg_cpu),
    ]
    print(f"{'part':<62} {'µs/op':>9}")
    for name, value in rows:
        print(f"{name:<62} {value:>9.1f}")
    print(
        f"\nfloor (crypto + SQL), SQLite: {parts + sqlite_sql:.0f} µs; Tollgate today "
        f"{sqlite_whole:.0f} µs ({sqlite_whole / (parts + sqlite_sql):.1f}x the floor)"
    )
    print(
        f"floor (crypto + one round trip), PostgreSQL: {parts + pg_one:.0f} µs; Tollgate "
        f"today {pg_whole:.0f} µs ({pg_whole / (parts + pg_one):.1f}x the floor)"
    )


if __name__ == "__main__":
    main()
