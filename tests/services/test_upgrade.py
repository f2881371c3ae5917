"""Upgrading: a database made by the first release migrates to the current schema with its
users and keys intact (on SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import command
from sqlalchemy import Connection, bindparam, inspect, text

from tests.conftest import PASSWORD
from tollgate.clock import utcnow
from tollgate.keys.generation import generate_key
from tollgate.services.container import Services
from tollgate.services.grants import ClientInfo
from tollgate.services.names import username_key
from tollgate.settings import Settings
from tollgate.store import migrate
from tollgate.store.engine import create_engine
from tollgate.store.schema import UTCDateTime

# The users table as revision 0001 made it.
USERS_0001 = sa.table(
    "users",
    sa.column("id", sa.Uuid()),
    sa.column("username", sa.String()),
    sa.column("username_key", sa.String()),
    sa.column("password_hash", sa.String()),
    sa.column("scope", sa.String()),
    sa.column("disabled", sa.Boolean()),
    sa.column("created_at", UTCDateTime()),
    sa.column("password_changed_at", UTCDateTime()),
)


async def test_first_release_database_upgrades_with_its_data(
    make_settings: Callable[..., Settings], hasher: Any
) -> None:
    settings = make_settings()
    engine = create_engine(settings)
    try:
        # The schema as revision 0001 made it, with a user and that release's signing key
        # (the `active` flag that 0002 replaces with `activates_at`).
        def first_release(connection: Connection) -> None:
            command.upgrade(migrate.alembic_config(connection), "0001")

        key = generate_key("ES256")
        async with engine.begin() as connection:
            await connection.run_sync(first_release)
            await connection.execute(
                text(
                    "INSERT INTO signing_keys (kid, alg, private_key, public_jwk, created_at,"
                    " active) VALUES (:kid, 'ES256', :private, :jwk, :created, :active)"
                ).bindparams(bindparam("created", type_=UTCDateTime())),
                {
                    "kid": key.kid,
                    "private": key.private_key,
                    "jwk": json.dumps(key.public_jwk),
                    "created": utcnow(),
                    "active": True,
                },
            )
            await connection.execute(
                USERS_0001.insert(),
                {
                    "id": uuid.uuid4(),
                    "username": "Elder",
                    "username_key": username_key("Elder"),
                    "password_hash": await hasher.hash(PASSWORD),
                    "scope": "profile",
                    "disabled": False,
                    "created_at": utcnow(),
                    "password_changed_at": utcnow(),
                },
            )
    finally:
        await engine.dispose()

    # What `tollgate migrate` and `tollgate serve` run.
    services = await Services.open(settings, hasher, migrate_first=True)
    try:
        await services.start()
        assert await services.stores.database.schema_revision() == migrate.head_revision()
        engine = create_engine(settings)
        async with engine.connect() as connection:
            columns = await connection.run_sync(
                lambda c: {col["name"] for col in inspect(c).get_columns("signing_keys")}
            )
        await engine.dispose()
        assert "active" not in columns  # 0002 dropped it: old code cannot run on this
        pair = await services.login.with_password("elder", PASSWORD, None, ClientInfo())
        claims = await services.checker.access(pair.access_token)
        assert claims.username == "Elder"
        # The first release's key still signs: nobody had to log in again.
        signer = await services.keyring.signer()
        assert signer.kid == key.kid
    finally:
        await services.close()
