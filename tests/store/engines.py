"""Opening each implementation of the store seam on a database URL.

The real implementations are imported only when asked for, so the suite collects where
one is missing; that test then fails (a missing part fails, it never skips).
"""

from __future__ import annotations

import importlib

import pytest

from tests.conftest import ISSUER
from tests.store.reference import open_reference
from tollgate.settings import Settings
from tollgate.store.stores import Stores

# "reference" is the in-memory implementation of tests/store/reference.py.
ENGINES = ["reference", "sqlite", "postgresql"]
DATABASE_ENGINES = ["sqlite", "postgresql"]

_OPENERS = {
    "sqlite": ("tollgate.store.sqlite", "open_sqlite"),
    "postgresql": ("tollgate.store.postgres", "open_postgres"),
}


def settings_for(database_url: str) -> Settings:
    return Settings(database_url=database_url, issuer=ISSUER)


async def open_stores(engine: str, database_url: str) -> Stores:
    if engine == "reference":
        return open_reference()
    module_name, function_name = _OPENERS[engine]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as missing:
        pytest.fail(f"the {engine} store is missing: {module_name} ({missing})", pytrace=False)
    stores: Stores = await getattr(module, function_name)(settings_for(database_url))
    return stores
