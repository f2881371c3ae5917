"""Migration 0006 (DPoP): sessions from before stay unbound and usable, on both engines;
downgrading ends the bound sessions rather than let them pass for Bearer ones."""

from __future__ import annotations

import dataclasses
import uuid

import sqlalchemy as sa

from tests.store.builders import a_session, add_user, at, first_token, start_session
from tests.store.engines import open_stores, settings_for
from tests.store.test_migration_0005 import migrate_to
from tollgate.store.engine import create_engine


async def test_sessions_from_before_stay_unbound_and_bound_ones_end_on_downgrade(
    empty_url: tuple[str, str],
) -> None:
    engine, url = empty_url
    await migrate_to(url, "0005")
    await migrate_to(url, "head")

    stores = await open_stores(engine, url)
    try:
        user = await add_user(stores)
        unbound, _ = await start_session(stores, user)
        bound = dataclasses.replace(a_session(user), dpop_jkt="j" * 43)
        await stores.sessions.start(bound, first_token(bound))
        assert (await stores.sessions.live(bound.id, at(1))) == bound
        assert (await stores.sessions.live(unbound.id, at(1))) == unbound
        assert unbound.dpop_jkt is None
        assert await stores.proofs.first_use("p", at(60), at(0))
    finally:
        await stores.close()

    await migrate_to(url, "0005", direction="downgrade")
    sql = create_engine(settings_for(url))
    try:
        async with sql.connect() as connection:
            sessions = list(await connection.scalars(sa.text("SELECT id FROM sessions")))
            tables = await connection.run_sync(lambda c: sa.inspect(c).get_table_names())
    finally:
        await sql.dispose()
    assert [uuid.UUID(str(i)) for i in sessions] == [unbound.id]
    assert "dpop_proofs" not in tables
