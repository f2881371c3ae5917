"""Errors as the store's own: taken names, values PostgreSQL refuses, a server that is
down; and the same stores working again once it is back, without reopening them."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator

import asyncpg
import pytest

from tests.e2e.server import free_port
from tests.store.postgres.conftest import migrated, pg_settings
from tests.store.postgres.data import DAY, new_session, new_user, user_record, utcnow
from tests.support.postgres import PostgresServer
from tollgate.store import migrate
from tollgate.store.postgres import open_postgres
from tollgate.store.postgres.pool import asyncpg_dsn
from tollgate.store.records import (
    AlreadyUsed,
    ClientRecord,
    Conflict,
    Rotated,
    Rotation,
    RotationRequest,
    StoreUnavailable,
    Unstorable,
)
from tollgate.store.stores import Stores


async def test_a_taken_username_key_or_skeleton_is_a_conflict(stores: Stores) -> None:
    user = await new_user(stores)
    same_key = dataclasses.replace(user_record(), username_key=user.username_key)
    look_alike = dataclasses.replace(user_record(), username_skeleton=user.username_skeleton)

    with pytest.raises(Conflict) as taken:
        await stores.users.create(same_key)
    with pytest.raises(Conflict) as alike:
        await stores.users.create(look_alike)

    assert (taken.value.what, alike.value.what) == ("username", "username_skeleton")
    assert await stores.users.list() == [user]


async def test_a_taken_client_name_is_a_conflict(stores: Stores) -> None:
    await stores.clients.add(ClientRecord("tgc_1", "billing", "a" * 64, utcnow()))

    with pytest.raises(Conflict) as taken:
        await stores.clients.add(ClientRecord("tgc_2", "billing", "b" * 64, utcnow()))

    assert taken.value.what == "client_name"


@pytest.mark.parametrize("name", ["nul\x00byte", "lone\ud800surrogate", "x" * 65])
async def test_a_value_postgres_refuses_is_unstorable(stores: Stores, name: str) -> None:
    with pytest.raises(Unstorable):
        await stores.users.create(dataclasses.replace(user_record(), username=name))

    assert await stores.users.list() == []


@pytest.mark.parametrize("name", ["nul\x00byte", "lone\ud800surrogate"])
async def test_looking_up_an_unstorable_name_is_unstorable(stores: Stores, name: str) -> None:
    with pytest.raises(Unstorable):
        await stores.users.by_username_key(name)


async def test_schema_revision_is_alembics(postgres: PostgresServer, stores: Stores) -> None:
    assert await stores.database.schema_revision() == migrate.head_revision()
    bare = await open_postgres(pg_settings(postgres.new_database()))
    try:
        assert await bare.database.schema_revision() is None
        await bare.database.ping()
    finally:
        await bare.close()
        await bare.close()  # closing twice is fine


async def test_a_server_that_is_not_there_is_unavailable() -> None:
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nothing"

    with pytest.raises(StoreUnavailable):
        await open_postgres(pg_settings(url))


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A server of this test's own, since the test stops it."""
    server = PostgresServer()
    server.start()
    yield server
    server.remove()


async def _wait_for_lock_waiter(url: str) -> None:
    watcher = await asyncpg.connect(asyncpg_dsn(url))
    try:
        for _ in range(500):
            if await watcher.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            ):
                return
            await asyncio.sleep(0.01)
    finally:
        await watcher.close()
    raise AssertionError("the call never waited for the lock")


async def test_the_stores_work_again_after_postgres_restarts(own_postgres: PostgresServer) -> None:
    url = await migrated(own_postgres.new_database())
    stores = await open_postgres(pg_settings(url, db_pool_size=2, db_max_overflow=0))
    try:
        user = await new_user(stores)
        session, first = await new_session(stores, user)
        # A call in flight when the server goes: it waits on a row lock held elsewhere.
        holder = await asyncpg.connect(asyncpg_dsn(url))
        await holder.execute("BEGIN")
        await holder.execute("SELECT FROM refresh_tokens WHERE id = $1 FOR UPDATE", first.id)
        now = utcnow()
        in_flight = asyncio.create_task(
            stores.sessions.rotate(
                RotationRequest(first.id, session.id, user.id, "c1", b"s", now, DAY)
            )
        )
        await _wait_for_lock_waiter(url)

        await asyncio.to_thread(own_postgres.stop)

        # A fast shutdown ends the lock holder's backend first, so the waiting call may
        # still finish just before its own backend goes: it either completed or says the
        # database is unavailable, never anything else.
        try:
            finished: Rotation | None = await in_flight
        except StoreUnavailable:
            finished = None
        with pytest.raises(StoreUnavailable):
            await stores.database.ping()
        with pytest.raises(StoreUnavailable):
            await stores.sessions.live(session.id, now)

        await asyncio.to_thread(own_postgres.start)

        await stores.database.ping()
        live = await stores.sessions.live(session.id, now)
        # (touched by the call in flight if that one finished)
        expected = session if finished is None else finished.session
        assert live == expected
        rotation = await stores.sessions.rotate(
            RotationRequest(first.id, session.id, user.id, "c1", b"s", now, DAY)
        )
        if finished is None:
            assert isinstance(rotation, Rotated)
        else:  # the call in flight had rotated it: the same call again is a replay
            assert isinstance(finished, Rotated)
            assert isinstance(rotation, AlreadyUsed)
            assert rotation.child == finished.child
    finally:
        await stores.close()
