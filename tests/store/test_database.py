"""Database: the connection every store shares, and the errors every store raises."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tests.e2e.server import free_port
from tests.store.builders import a_session, a_user, add_user, first_token
from tests.store.engines import DATABASE_ENGINES, open_stores
from tests.support.postgres import PostgresServer
from tollgate.store import migrate
from tollgate.store.records import StoreUnavailable, Unstorable
from tollgate.store.stores import Stores


async def test_ping_answers_and_the_schema_is_at_the_head_revision(stores: Stores) -> None:
    await stores.database.ping()

    head = migrate.head_revision()
    assert head is not None
    assert await stores.database.schema_revision() == head


@pytest.mark.parametrize("engine", DATABASE_ENGINES)
async def test_an_unmigrated_database_has_no_schema_revision(
    engine: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if engine == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    else:
        postgres: PostgresServer = request.getfixturevalue("postgres")
        url = postgres.new_database()
    stores = await open_stores(engine, url)
    try:
        await stores.database.ping()
        assert await stores.database.schema_revision() is None
    finally:
        await stores.close()


@pytest.mark.parametrize("engine", DATABASE_ENGINES)
async def test_an_unreachable_database_is_unavailable(engine: str, tmp_path: Path) -> None:
    if engine == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'no-such-folder' / 'tollgate.db'}"
    else:
        # Nothing listens there.
        url = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/tollgate"

    with pytest.raises(StoreUnavailable):
        await open_and_ping(engine, url)


async def open_and_ping(engine: str, url: str) -> None:
    # Either opening finds out, or the first question does.
    stores = await open_stores(engine, url)
    try:
        await stores.database.ping()
    finally:
        await stores.close()


async def test_a_value_the_database_refuses_is_unstorable(engine: str, stores: Stores) -> None:
    """PostgreSQL text cannot hold U+0000; SQLite and the reference store it as given."""
    user = a_user()
    session = dataclasses.replace(a_session(user), user_agent="curl\x00/8.5.0")
    await stores.users.create(user)

    if engine == "postgresql":
        with pytest.raises(Unstorable):
            await stores.sessions.start(session, first_token(session))
        assert await stores.sessions.live(session.id, session.created_at) is None
        # The store is still usable after the refusal.
        assert await add_user(stores, "other")
    else:
        await stores.sessions.start(session, first_token(session))
        assert await stores.sessions.live(session.id, session.created_at) == session


@pytest.mark.parametrize("engine", DATABASE_ENGINES)
async def test_text_that_is_not_unicode_is_unstorable(stores: Stores) -> None:
    """A lone surrogate (JSON allows "\\ud800") has no UTF-8 form: no database takes it."""
    user = a_user()
    session = dataclasses.replace(a_session(user), user_agent="curl\ud800")
    await stores.users.create(user)

    with pytest.raises(Unstorable):
        await stores.sessions.start(session, first_token(session))

    assert await stores.sessions.live(session.id, session.created_at) is None
    assert await add_user(stores, "other")
