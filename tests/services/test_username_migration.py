"""Migration 0004: accounts made under NFKC + casefold keep working under RFC 8265 keys."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.conftest import PASSWORD
from tollgate.errors import InvalidGrant, UsernameTaken
from tollgate.services.container import Services
from tollgate.services.passwords import PasswordHasher
from tollgate.settings import Settings
from tollgate.store.engine import create_engine
from tollgate.store.migrate import alembic_config, head_revision

MIXED_DIRECTIONS = "Abc\u05e9\u05dc\u05d5\u05dd"  # allowed before, refused by RFC 8265
# (display as stored before 0004, its NFKC + casefold key)
LEGACY_ROWS = [
    ("Alice", "alice"),
    ("\u0430lice", "\u0430lice"),  # Cyrillic а: a look-alike made before skeletons
    ("Straße", "strasse"),
    (MIXED_DIRECTIONS, "abc\u05e9\u05dc\u05d5\u05dd"),
]

users_0003 = sa.table(
    "users",
    sa.column("id", sa.Uuid()),
    sa.column("username", sa.String()),
    sa.column("username_key", sa.String()),
    sa.column("email", sa.String()),
    sa.column("password_hash", sa.String()),
    sa.column("scope", sa.String()),
    sa.column("disabled", sa.Boolean()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("password_changed_at", sa.DateTime(timezone=True)),
)


def to_0003(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "0003")


@pytest.fixture
async def migrated(settings: Settings, hasher: PasswordHasher) -> AsyncIterator[Services]:
    """A database with accounts made at revision 0003, then brought to the head."""
    password_hash = await hasher.hash(PASSWORD)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    async with connect(settings) as connection:
        await connection.run_sync(to_0003)
        await connection.execute(
            users_0003.insert(),
            [
                {
                    "id": uuid.uuid4(),
                    "username": display,
                    "username_key": key,
                    "email": None,
                    "password_hash": password_hash,
                    "scope": "profile",
                    "disabled": False,
                    "created_at": start + timedelta(days=n),
                    "password_changed_at": start,
                }
                for n, (display, key) in enumerate(LEGACY_ROWS)
            ],
        )
    services = await Services.open(settings, hasher, migrate_first=True)
    await services.start()
    yield services
    await services.close()


@asynccontextmanager
async def connect(settings: Settings) -> AsyncIterator[AsyncConnection]:
    """A connection of our own on the database, outside the stores; committed on exit."""
    engine = create_engine(settings)
    try:
        async with engine.begin() as connection:
            yield connection
    finally:
        await engine.dispose()


async def test_existing_accounts_get_keys_and_skeletons(migrated: Services) -> None:
    async with connect(migrated.settings) as connection:
        revision = await connection.scalar(sa.text("SELECT version_num FROM alembic_version"))
        rows = (
            await connection.execute(
                sa.text("SELECT username, username_key, username_skeleton FROM users")
            )
        ).all()
    assert revision == head_revision()
    assert {row.username: (row.username_key, row.username_skeleton) for row in rows} == {
        "Alice": ("alice", "alice"),
        # The older account keeps the skeleton; this one still logs in.
        "\u0430lice": ("\u0430lice", None),
        "Straße": ("straße", "straße"),
        # RFC 8265 refuses the name: it keeps its old key, and still gets a skeleton.
        # (TS #39 maps the Hebrew vav to l.)
        MIXED_DIRECTIONS: ("abc\u05e9\u05dc\u05d5\u05dd", "abc\u05e9\u05dcl\u05dd"),
    }


@pytest.mark.parametrize(
    "typed", ["ALICE", "\u0430lice", "straße", "STRAßE", "ABC\u05e9\u05dc\u05d5\u05dd"]
)
async def test_existing_accounts_still_log_in(migrated: Services, typed: str) -> None:
    user = await migrated.accounts.authenticate(typed, PASSWORD)
    assert user.username_key == typed.lower()


async def test_case_folding_no_longer_joins_ss_and_sharp_s(migrated: Services) -> None:
    # RFC 8265 lower-cases (ß stays ß): STRASSE is another name now, free to sign up.
    with pytest.raises(InvalidGrant):
        await migrated.accounts.authenticate("STRASSE", PASSWORD)
    assert (await migrated.accounts.join("STRASSE", PASSWORD)).username_key == "strasse"


@pytest.mark.parametrize("look_alike", ["al\u0131ce", "AL\u0130CE", "a1ice"])
async def test_look_alikes_of_existing_accounts_are_taken(
    migrated: Services, look_alike: str
) -> None:
    with pytest.raises(UsernameTaken):
        await migrated.accounts.join(look_alike, PASSWORD)
