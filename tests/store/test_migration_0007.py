"""Migration 0007 (Shared Signals): the streams and events tables come and go, on both
engines, and a stored event survives reopening the stores."""

from __future__ import annotations

import sqlalchemy as sa

from tests.store.builders import add_app, at
from tests.store.engines import open_stores, settings_for
from tests.store.test_migration_0005 import migrate_to
from tollgate.store.engine import create_engine
from tollgate.store.records import SecurityEventRecord, StreamRecord


async def tables(url: str) -> list[str]:
    sql = create_engine(settings_for(url))
    try:
        async with sql.connect() as connection:
            names: list[str] = await connection.run_sync(lambda c: sa.inspect(c).get_table_names())
    finally:
        await sql.dispose()
    return names


async def test_upgrade_stores_events_and_downgrade_drops_them(empty_url: tuple[str, str]) -> None:
    engine, url = empty_url
    await migrate_to(url, "0006")
    assert "ssf_events" not in await tables(url)
    await migrate_to(url, "head")

    stores = await open_stores(engine, url)
    try:
        app = await add_app(stores)
        stream = StreamRecord(
            "s1", app.client_id, "urn:ietf:rfc:8936", None, ("e",), "enabled", at(0)
        )
        await stores.security_events.add_stream(stream)
        await stores.security_events.add_events([SecurityEventRecord("j1", "s1", at(1), "{}")])
    finally:
        await stores.close()
    reopened = await open_stores(engine, url)
    try:
        batch = await reopened.security_events.poll("s1", [], 10, at(2))
        assert [e.jti for e in batch.events] == ["j1"]
    finally:
        await reopened.close()

    await migrate_to(url, "0006", direction="downgrade")
    remaining = await tables(url)
    assert "ssf_events" not in remaining
    assert "ssf_streams" not in remaining
    assert "clients" in remaining
