"""A migrated SQLite file per test, and the SQLite stores opened on it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tollgate.settings import Settings
from tollgate.store import migrate
from tollgate.store.engine import create_engine
from tollgate.store.sqlite import open_sqlite
from tollgate.store.stores import Stores


async def migrated(settings: Settings) -> None:
    """The schema as `tollgate migrate` makes it (Alembic through SQLAlchemy)."""
    engine = create_engine(settings)
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()


@pytest.fixture
async def stores(settings: Settings) -> AsyncIterator[Stores]:
    await migrated(settings)
    opened = await open_sqlite(settings)
    yield opened
    await opened.close()
