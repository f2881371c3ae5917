"""Running one admin action against the database, for every CLI command."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer

from tollgate.errors import TollgateError
from tollgate.keys.sealing import SealingError
from tollgate.services.container import Services
from tollgate.settings import Settings

T = TypeVar("T")


def run(action: Callable[[Services], Awaitable[T]], settings: Settings | None = None) -> T:
    """Run one admin action against a migrated database; domain errors exit 1."""

    async def go() -> T:
        services = Services.build(settings or Settings())
        try:
            await services.start()
            return await action(services)
        finally:
            await services.close()

    try:
        return asyncio.run(go())
    except TollgateError as exc:
        typer.echo(f"error: {exc.description}", err=True)
        raise typer.Exit(1) from exc
    except SealingError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
