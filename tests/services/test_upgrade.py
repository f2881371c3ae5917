"""Upgrading: a database made by the first release migrates to the current schema with its
users and keys intact (on SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from alembic import command
from sqlalchemy import Connection, bindparam, inspect, text

from tests.conftest import PASSWORD
from tollgate.keys.generation import generate_key
from tollgate.services.container import Services
from tollgate.services.grants import ClientInfo
from tollgate.services.names import username_key
from tollgate.settings import Settings
from tollgate.store import migrate
from tollgate.store.models import User, UTCDateTime, utcnow


async def test_first_release_database_upgrades_with_its_data(
    make_settings: Callable[..., Settings], hasher: Any
) -> None:
    services = Services.build(make_settings(), hasher)
    try:
        # The schema as revision 0001 made it, with a user and that release's signing key
        # (the `active` flag that 0002 replaces with `activates_at`).
        def first_release(connection: Connection) -> None:
            command.upgrade(migrate.alembic_config(connection), "0001")

        key = generate_key("ES256")
        async with services.engine.begin() as connection:
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
        async with services.sessionmaker.begin() as db:
            db.add(
                User(
                    username="Elder",
                    username_key=username_key("Elder"),
                    password_hash=await hasher.hash(PASSWORD),
                    scope="profile",
                )
            )

        await services.start()  # what `tollgate migrate` and `tollgate serve` run

        assert await migrate.current_revision(services.engine) == migrate.head_revision()
        async with services.engine.connect() as connection:  # (SQLite: one connection)
            columns = await connection.run_sync(
                lambda c: {col["name"] for col in inspect(c).get_columns("signing_keys")}
            )
        assert "active" not in columns  # 0002 dropped it: old code cannot run on this
        pair = await services.login.with_password("elder", PASSWORD, None, ClientInfo())
        claims = await services.checker.access(pair.access_token)
        assert claims.username == "Elder"
        # The first release's key still signs: nobody had to log in again.
        signer = await services.keyring.signer()
        assert signer.kid == key.kid
    finally:
        await services.close()
