"""The asyncpg pool: every store call is one statement on one pooled connection.

Each statement runs in its own implicit transaction (no BEGIN/COMMIT round trips); the
multi-table writes are single statements with data-modifying CTEs, which PostgreSQL runs
atomically. asyncpg prepares each query text once per connection and reuses it, so a call
on a warm connection is one round trip: Bind/Execute/Sync, one answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

import asyncpg
from asyncpg import Record

from tollgate.settings import Settings
from tollgate.store.postgres.errors import translate
from tollgate.store.records import StoreUnavailable

T = TypeVar("T")

# As SQLAlchemy's pool_timeout: how long a call waits for a free connection (or for a
# new one to connect) before the database counts as unavailable.
ACQUIRE_TIMEOUT = 30.0
# A deadlock victim (class 40) was rolled back whole, having written nothing: as every
# call is one statement, running it again is safe.
ATTEMPTS = 3
CLOSE_TIMEOUT = 10.0


def asyncpg_dsn(database_url: str) -> str:
    """`postgresql+asyncpg://u:p@h:5432/db` (SQLAlchemy's form, which Alembic still
    uses) as libpq's `postgresql://u:p@h:5432/db`, the form asyncpg takes."""
    scheme, sep, rest = database_url.partition("://")
    if not sep:
        raise ValueError("database_url is not a URL")
    return f"{scheme.split('+', 1)[0]}://{rest}"


async def _keep_state(_connection: object) -> None:
    """Pool release hook. asyncpg's default runs `SELECT pg_advisory_unlock_all(); CLOSE
    ALL; UNLISTEN *; RESET ALL` on every release, a second round trip per call; none of
    those states is ever set here (no session locks, cursors, LISTEN or SET), and asyncpg
    still rolls back an unfinished transaction before calling this hook."""


async def open_pool(settings: Settings) -> asyncpg.Pool[Record]:
    try:
        pool: asyncpg.Pool[Record] = await asyncpg.create_pool(
            asyncpg_dsn(settings.database_url),
            # Connections as load needs them. No floor: asyncpg restores a floor after an
            # outage from a background task that logs a traceback per failed try, and the
            # first call (a key load at start) proves the server answers anyway.
            min_size=0,
            max_size=settings.db_pool_size + settings.db_max_overflow,
            timeout=ACQUIRE_TIMEOUT,
            reset=_keep_state,
            # The query texts are a fixed, small set: keep them prepared for the life
            # of the connection rather than re-preparing each every 5 minutes.
            max_cached_statement_lifetime=0,
        )
    except Exception as exc:
        error = translate(exc)
        if error is None:
            raise
        raise error from exc
    return pool


class Connections:
    """Run one statement on a pooled connection, with asyncpg's errors translated."""

    def __init__(self, pool: asyncpg.Pool[Record]) -> None:
        self._pool = pool

    async def fetch(self, query: str, *args: Any) -> list[Record]:
        result: list[Record] = await self._run("fetch", query, args)
        return result

    async def fetchrow(self, query: str, *args: Any) -> Record | None:
        result: Record | None = await self._run("fetchrow", query, args)
        return result

    async def one(self, decode: Callable[[Record], T], query: str, *args: Any) -> T | None:
        """The statement's row as `decode` makes it; None when it gives none."""
        row = await self.fetchrow(query, *args)
        return None if row is None else decode(row)

    async def all(self, decode: Callable[[Record], T], query: str, *args: Any) -> list[T]:
        """Every row of the statement, as `decode` makes it."""
        return [decode(row) for row in await self.fetch(query, *args)]

    async def fetchval(self, query: str, *args: Any) -> Any:
        return await self._run("fetchval", query, args)

    async def execute(self, query: str, *args: Any) -> int:
        """How many rows the statement touched (from its command tag, "UPDATE 3")."""
        tag: str = await self._run("execute", query, args)
        return int(tag.rsplit(" ", 1)[-1]) if tag[-1:].isdigit() else 0

    async def _run(self, method: str, query: str, args: tuple[Any, ...]) -> Any:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                async with self._pool.acquire(timeout=ACQUIRE_TIMEOUT) as connection:
                    return await getattr(connection, method)(query, *args)
            except asyncpg.TransactionRollbackError as exc:
                if attempt == ATTEMPTS:
                    raise StoreUnavailable(f"{type(exc).__name__}: {exc}") from exc
            except Exception as exc:
                error = translate(exc)
                if error is None:
                    raise
                raise error from exc
        raise AssertionError("unreachable")

    def in_use(self) -> int:
        return self._pool.get_size() - self._pool.get_idle_size()

    async def close(self) -> None:
        if self._pool.is_closing():
            return
        try:
            # Gracefully, letting calls in flight finish; then by force.
            await asyncio.wait_for(self._pool.close(), CLOSE_TIMEOUT)
        except TimeoutError:
            self._pool.terminate()


class PostgresDatabase:
    """`Database` of the seam: the pool every store shares."""

    def __init__(self, connections: Connections) -> None:
        self._connections = connections

    async def ping(self) -> None:
        await self._connections.fetchval("SELECT 1")

    async def schema_revision(self) -> str | None:
        try:
            revision: str | None = await self._connections.fetchval(
                "SELECT version_num FROM alembic_version"
            )
        except asyncpg.UndefinedTableError:
            return None
        return revision

    def connections_in_use(self) -> int:
        return self._connections.in_use()

    async def close(self) -> None:
        await self._connections.close()
