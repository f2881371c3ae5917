from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.postgres import PostgresServer
from tollgate.services.container import Services
from tollgate.services.passwords import PasswordHasher
from tollgate.settings import Settings


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The store and service suites run on both databases."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'tollgate.db'}"
    postgres: PostgresServer = request.getfixturevalue("postgres")
    return postgres.new_database()


@pytest.fixture
async def services(settings: Settings, hasher: PasswordHasher) -> AsyncIterator[Services]:
    built = await Services.open(settings, hasher, migrate_first=True)
    await built.start()
    yield built
    await built.close()
