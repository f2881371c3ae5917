from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.server import running_server
from tests.support.postgres import PostgresServer


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.path):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e") / "tollgate.db"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, database: Path) -> tuple[str, Callable[[str], str]]:
    """A database URL for the module's server, and a way to run SQL on it."""
    if request.param == "sqlite":
        import sqlite3

        def sqlite_query(sql: str) -> str:
            with sqlite3.connect(database) as db:
                return str(db.execute(sql).fetchone()[0])

        return f"sqlite+aiosqlite:///{database}", sqlite_query
    postgres: PostgresServer = request.getfixturevalue("postgres")
    url = postgres.new_database()
    name = url.rsplit("/", 1)[1]
    return url, lambda sql: postgres.psql(sql, database=name).stdout.strip()


@pytest.fixture(scope="module")
def server(database: Path, backend: tuple[str, Callable[[str], str]]) -> Iterator[str]:
    """One real server per test module and database, with a 2-second reuse interval."""
    with running_server(database, database_url=backend[0], refresh_reuse_interval="2") as base:
        yield base


@pytest.fixture(scope="module")
def sql(backend: tuple[str, Callable[[str], str]]) -> Callable[[str], str]:
    return backend[1]
