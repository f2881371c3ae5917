"""Apply Alembic migrations from code (at start-up and `tollgate migrate`), and check that a
database is at the schema this version expects (every other admin command)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

# Any constant works; it only has to be the same for every Tollgate process.
POSTGRES_MIGRATION_LOCK = 0x70_6C_67_61_74_65


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


class SchemaNotCurrent(Exception):
    """The database lacks Tollgate's tables, or holds another revision of them."""

    def __init__(self, current: str | None, head: str | None, known: bool) -> None:
        self.current = current
        self.head = head
        # False: a newer Tollgate migrated this database; `tollgate migrate` cannot help.
        self.known = known
        super().__init__(f"schema revision {current}, expected {head}")


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def known_revisions() -> set[str]:
    script = ScriptDirectory.from_config(alembic_config())
    return {revision.revision for revision in script.walk_revisions()}


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        # Replicas starting together must not run the same migration twice.
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": POSTGRES_MIGRATION_LOCK})
    command.upgrade(alembic_config(connection), "head")


async def upgrade(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)


def require_current(current: str | None) -> None:
    """Raise SchemaNotCurrent unless `current` (the database's revision) is the head."""
    head = head_revision()
    if current != head:
        raise SchemaNotCurrent(current, head, known=current is None or current in known_revisions())
