"""Each contract test runs on every implementation of the store seam, each on a fresh,
migrated database of its own.

Migrating takes longer than most tests, so each engine migrates one template once per run
and every test gets a copy: a file copy on SQLite, `CREATE DATABASE ... TEMPLATE` on
PostgreSQL (which copies the schema and the Alembic revision alike).
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.store.engines import DATABASE_ENGINES, ENGINES, open_stores, settings_for
from tests.support.postgres import PostgresServer
from tollgate.store import migrate
from tollgate.store.engine import create_engine
from tollgate.store.stores import Stores


def _migrate(database_url: str) -> None:
    async def upgrade() -> None:
        engine = create_engine(settings_for(database_url))
        await migrate.upgrade(engine)
        await engine.dispose()

    asyncio.run(upgrade())


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "tollgate.db"
    _migrate(sqlite_url(path))
    return path


@pytest.fixture(scope="session")
def postgres_template(postgres: PostgresServer) -> str:
    url = postgres.new_database()
    _migrate(url)
    return url.rsplit("/", 1)[1]


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    engine_name: str = request.param
    return engine_name


@pytest.fixture
def store_url(engine: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database at the head revision (none for the in-memory reference)."""
    if engine == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        shutil.copyfile(template, tmp_path / "tollgate.db")
        return sqlite_url(tmp_path / "tollgate.db")
    if engine == "postgresql":
        postgres: PostgresServer = request.getfixturevalue("postgres")
        template_name: str = request.getfixturevalue("postgres_template")
        name = f"t_{uuid.uuid4().hex[:12]}"
        postgres.psql(f"CREATE DATABASE {name} TEMPLATE {template_name}")
        return postgres.url(name)
    return "memory:"


@pytest.fixture
async def stores(engine: str, store_url: str) -> AsyncIterator[Stores]:
    opened = await open_stores(engine, store_url)
    yield opened
    await opened.close()


@pytest.fixture(params=DATABASE_ENGINES)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    """An engine's name and the URL of an empty database of it (the migration tests)."""
    engine: str = request.param
    if engine == "sqlite":
        return engine, f"sqlite+aiosqlite:///{tmp_path / 'tollgate.db'}"
    postgres: PostgresServer = request.getfixturevalue("postgres")
    return engine, postgres.new_database()
