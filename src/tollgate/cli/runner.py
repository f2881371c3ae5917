"""Running one admin action against the database, for every CLI command."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import fields
from typing import Any, NoReturn, TypeVar

import typer
from sqlalchemy.exc import DBAPIError

from tollgate.cli.logs import command_logging
from tollgate.errors import TollgateError
from tollgate.keys.sealing import SealingError
from tollgate.services.container import Services
from tollgate.settings import Settings
from tollgate.store.engine import display_url, sqlite_file
from tollgate.store.migrate import SchemaNotCurrent, require_current
from tollgate.store.records import StoreUnavailable
from tollgate.store.stores import Stores

T = TypeVar("T")


class DatabaseNotReady(Exception):
    """The configured database is missing or not migrated; the message says what to do."""


def provide(services: Services, name: str) -> Any:
    """The part of the services an action names: a service (`accounts`, `sessions`, ...),
    `settings`, `events`, `clock`, the `database`, or a store (`key_store`, `user_store`)."""
    if name in {f.name for f in fields(Services)}:
        return getattr(services, name)
    for store in fields(Stores):
        if name in (store.name, store.name.removesuffix("s") + "_store"):
            return getattr(services.stores, store.name)
    raise TypeError(f"no service named {name!r} for an admin command")


def run(
    action: Callable[..., Awaitable[T]],
    settings: Settings | None = None,
    *,
    migrate: bool = False,
) -> T:
    """Run one admin action with the services it names as parameters (`provide`), as a
    route names its dependencies; its errors print one line and exit 1.

    With `migrate` (serve, migrate) the database is created or upgraded and a signing key
    made first. Every other command needs an existing database at the current schema and
    creates nothing: a mistyped or missing TOLLGATE_DATABASE_URL must not look like an
    empty user list.
    """
    settings = settings or Settings()
    where = display_url(settings.database_url)
    command_logging()

    async def go() -> T:
        if not migrate:
            refuse_missing_file(settings.database_url)
        services = await Services.open(settings, migrate_first=migrate)
        try:
            if migrate:
                await services.start()
            else:
                await require_schema(services, where)
            wanted = inspect.signature(action).parameters
            return await action(**{name: provide(services, name) for name in wanted})
        finally:
            await services.close()

    try:
        return asyncio.run(go())
    except (TollgateError, SealingError, DatabaseNotReady) as exc:
        fail(exc.description if isinstance(exc, TollgateError) else str(exc))
    except (StoreUnavailable, DBAPIError) as exc:
        # The driver's own words (e.g. `database "x" does not exist`), without SQL.
        original = exc.orig if isinstance(exc, DBAPIError) else exc
        reason = str(original).strip().splitlines()[0] if original else type(exc).__name__
        fail(f"cannot use the database at {where}: {reason}")
    except OSError as exc:  # e.g. connection refused by a PostgreSQL server that is down
        fail(f"cannot reach the database at {where}: {exc}")


def echo_lines(lines: Iterable[str]) -> None:
    for line in lines:
        typer.echo(line)


def fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def refuse_missing_file(database_url: str) -> None:
    """Opening a SQLite file that does not exist would create it: refuse before that."""
    path = sqlite_file(database_url)
    if path is not None and not path.exists():
        raise DatabaseNotReady(
            f"no database at {database_url} ({path.resolve()} does not exist); set "
            "TOLLGATE_DATABASE_URL to your database, or run `tollgate migrate` to create one"
        )


async def require_schema(services: Services, where: str) -> None:
    try:
        require_current(await services.stores.database.schema_revision())
    except SchemaNotCurrent as exc:
        if exc.current is None:
            problem = "has no Tollgate tables"
        else:
            problem = f"is at schema revision {exc.current}, not {exc.head}"
        advice = (
            "run `tollgate migrate` first"
            if exc.known
            else "a newer Tollgate migrated it; upgrade Tollgate"
        )
        raise DatabaseNotReady(f"the database at {where} {problem}; {advice}") from exc
