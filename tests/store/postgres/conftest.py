"""PostgreSQL stores on a real server (the session-wide `postgres` fixture): each test
gets a fresh database migrated by Alembic, as Tollgate migrates it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.support.postgres import PostgresServer
from tollgate.settings import Settings
from tollgate.store import migrate
from tollgate.store.engine import create_engine
from tollgate.store.postgres import open_postgres
from tollgate.store.stores import Stores

ISSUER = "http://tollgate.test"


def pg_settings(url: str, **overrides: Any) -> Settings:
    return Settings(database_url=url, issuer=ISSUER, **overrides)


async def migrated(url: str) -> str:
    engine = create_engine(pg_settings(url))
    await migrate.upgrade(engine)
    await engine.dispose()
    return url


@pytest.fixture
async def pg_url(postgres: PostgresServer) -> str:
    return await migrated(postgres.new_database())


@pytest.fixture
async def stores(pg_url: str) -> AsyncIterator[Stores]:
    opened = await open_postgres(pg_settings(pg_url))
    yield opened
    await opened.close()
