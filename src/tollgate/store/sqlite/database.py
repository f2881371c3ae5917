"""The connection seen as a whole: is it there, which schema, close it."""

from __future__ import annotations

import sqlite3

from tollgate.store.records import StoreUnavailable
from tollgate.store.sqlite.connection import ConnectionThread
from tollgate.store.sqlite.loop import LoopConnection

# What Alembic's MigrationContext.get_current_revision reads.
REVISION = "SELECT version_num FROM alembic_version"


def _ping(connection: sqlite3.Connection) -> None:
    connection.execute("SELECT 1").fetchone()


def _revision(connection: sqlite3.Connection) -> str | None:
    try:
        row = connection.execute(REVISION).fetchone()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):  # never migrated
            return None
        raise
    return None if row is None else str(row[0])


class SqliteDatabase:
    def __init__(self, thread: ConnectionThread, loop: LoopConnection) -> None:
        self._thread = thread
        self._loop = loop

    async def ping(self) -> None:
        try:
            await self._thread.call(_ping)
        except sqlite3.Error as exc:  # whatever it is, the database does not answer
            raise StoreUnavailable(str(exc)) from exc

    async def schema_revision(self) -> str | None:
        return await self._thread.call(_revision)

    def connections_in_use(self) -> int:
        # Two for the life of the process: the store's thread's, and the event loop's.
        return 2

    async def close(self) -> None:
        await self._loop.close()
        await self._thread.close()
