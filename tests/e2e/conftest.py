from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.server import running_server


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.path):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e") / "tollgate.db"


@pytest.fixture(scope="module")
def server(database: Path) -> Iterator[str]:
    """One real server per test module, with a 1-second refresh reuse interval."""
    with running_server(database, refresh_reuse_interval="1") as base:
        yield base
