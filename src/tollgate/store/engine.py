"""The SQLAlchemy engine Alembic migrates with, and how a database URL is shown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    create_async_engine,
)

from tollgate.settings import Settings

# Writers wait this long for SQLite's single write lock instead of failing with "locked".
SQLITE_BUSY_TIMEOUT_MS = 30_000


def create_engine(settings: Settings) -> AsyncEngine:
    if settings.is_sqlite:
        engine = create_async_engine(
            settings.database_url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            # This engine only migrates (the stores run their own connections), and one
            # connection is all a migration uses.
            pool_size=1,
            max_overflow=0,
            pool_timeout=60,
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_pre_ping=True,
    )


def display_url(database_url: str) -> str:
    """The URL as messages may show it: any password replaced by ***."""
    parsed = make_url(database_url)
    # Only when there is a password: rendering re-quotes other parts (":memory:").
    return database_url if parsed.password is None else parsed.render_as_string(hide_password=True)


def sqlite_file(database_url: str) -> Path | None:
    """The file a SQLite URL names; None for other databases, in-memory and URI filenames."""
    parsed = make_url(database_url)
    name = parsed.database
    if parsed.get_backend_name() != "sqlite" or not name or name == ":memory:":
        return None
    if name.startswith("file:"):  # ?uri=true: SQLite reads mode= and the path itself
        return None
    return Path(name)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers proceed while one writer commits; NORMAL is durable in WAL mode
    # except for the last transactions on power loss (not on a process crash).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()
