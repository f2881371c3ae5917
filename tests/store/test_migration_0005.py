"""Migration 0005: clients registered before it keep working (introspection only), on both
engines; downgrading drops what only 0005 could hold."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import command
from sqlalchemy import Connection

from tests.store.builders import (
    a_code,
    a_session,
    add_user,
    an_app,
    at,
    first_token,
    start_session,
)
from tests.store.engines import open_stores, settings_for
from tollgate.store.engine import create_engine
from tollgate.store.migrate import alembic_config
from tollgate.store.records import ClientRecord, CodeExchange

CREATED = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
clients_0004 = sa.table(
    "clients",
    sa.column("client_id", sa.String()),
    sa.column("name", sa.String()),
    sa.column("secret_hash", sa.String()),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


async def migrate_to(url: str, revision: str, *, direction: str = "upgrade") -> None:
    def run(connection: Connection) -> None:
        getattr(command, direction)(alembic_config(connection), revision)

    engine = create_engine(settings_for(url))
    try:
        async with engine.begin() as connection:
            await connection.run_sync(run)
    finally:
        await engine.dispose()


async def insert_0004_client(url: str) -> None:
    engine = create_engine(settings_for(url))
    try:
        async with engine.begin() as connection:
            await connection.execute(
                clients_0004.insert().values(
                    client_id="tgc_rs", name="resource-server", secret_hash="a" * 64,
                    created_at=CREATED,
                )
            )  # fmt: skip
    finally:
        await engine.dispose()


async def test_clients_from_before_read_back_with_no_sign_in_settings_and_back_down(
    empty_url: tuple[str, str],
) -> None:
    engine, url = empty_url
    await migrate_to(url, "0004")
    await insert_0004_client(url)

    await migrate_to(url, "head")

    stores = await open_stores(engine, url)
    try:
        assert await stores.clients.list() == [
            ClientRecord("tgc_rs", "resource-server", "a" * 64, CREATED)
        ]
        # What 0005 adds works, and is what a downgrade takes away; first-party
        # sessions and their refresh tokens stay.
        public = an_app("phone", public=True)
        await stores.clients.add(public)
        user = await add_user(stores)
        code = a_code(public, user)
        await stores.codes.add(code)
        app_session = dataclasses.replace(a_session(user), client_id=public.client_id)
        await stores.codes.consume(
            CodeExchange(
                code.id, public.client_id, code.redirect_uri, code.code_challenge, at(1),
                app_session, first_token(app_session),
            )
        )  # fmt: skip
        own_session, own_token = await start_session(stores, user)
    finally:
        await stores.close()

    await migrate_to(url, "0004", direction="downgrade")

    stores = await open_stores(engine, url)
    try:
        assert await stores.database.schema_revision() == "0004"
    finally:
        await stores.close()
    engine_ = create_engine(settings_for(url))
    try:
        async with engine_.connect() as connection:
            rows = (await connection.execute(sa.select(clients_0004))).all()
            sessions = list(await connection.scalars(sa.text("SELECT id FROM sessions")))
            tokens = list(await connection.scalars(sa.text("SELECT id FROM refresh_tokens")))
    finally:
        await engine_.dispose()
    assert [(r.client_id, r.secret_hash) for r in rows] == [("tgc_rs", "a" * 64)]
    assert [uuid.UUID(str(i)) for i in sessions] == [own_session.id]  # hex on SQLite
    assert tokens == [own_token.id]
