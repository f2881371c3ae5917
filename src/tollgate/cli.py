"""The `tollgate` command: serve, migrate, and admin commands for users and sessions."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
import uvicorn

from tollgate.app import create_app
from tollgate.errors import TollgateError
from tollgate.services.container import Services
from tollgate.settings import Settings
from tollgate.store import migrate as migrations

T = TypeVar("T")

cli = typer.Typer(help="Tollgate: a self-hostable JWT authentication server.", no_args_is_help=True)
users_cli = typer.Typer(help="Manage user accounts.", no_args_is_help=True)
sessions_cli = typer.Typer(help="List and end sessions.", no_args_is_help=True)
cli.add_typer(users_cli, name="users")
cli.add_typer(sessions_cli, name="sessions")


def _run(action: Callable[[Services], Awaitable[T]], settings: Settings | None = None) -> T:
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


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Migrate the database, make a signing key if there is none, and serve HTTP."""
    settings = Settings(host=host, port=port)

    async def prepare(services: Services) -> None:
        return None

    # Once, before any worker starts, so workers never race to migrate or make keys.
    _run(prepare, settings)
    if workers == 1:
        uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level)
        return
    # Worker processes build their own app from the environment; pass host and port
    # on so their default issuer matches this one.
    os.environ["TOLLGATE_HOST"] = host
    os.environ["TOLLGATE_PORT"] = str(port)
    uvicorn.run(
        "tollgate.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
    )


@cli.command()
def migrate() -> None:
    """Apply database migrations up to the newest."""

    async def action(services: Services) -> str | None:
        return await migrations.current_revision(services.engine)

    revision = _run(action)
    typer.echo(f"database at revision {revision}")


@users_cli.command("create")
def users_create(
    username: str,
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
    email: Annotated[str | None, typer.Option()] = None,
    scope: Annotated[str | None, typer.Option(help="Space-separated scopes.")] = None,
) -> None:
    """Create a user (the password must pass the same policy as sign-up)."""

    async def action(services: Services) -> str:
        user = await services.accounts.join(username, password, email, scope)
        return f"{user.id} {user.username} scope={user.scope!r}"

    typer.echo(_run(action))


@users_cli.command("list")
def users_list() -> None:
    """List every user."""

    async def action(services: Services) -> list[str]:
        return [
            f"{u.id}  {u.username:<24} {'disabled' if u.disabled else 'active  '}  "
            f"scope={u.scope!r}  created={u.created_at:%Y-%m-%d %H:%M}"
            for u in await services.accounts.list()
        ]

    for line in _run(action):
        typer.echo(line)


@users_cli.command("disable")
def users_disable(username: str) -> None:
    """Disable a user and end all of their sessions."""
    user = _run(lambda s: s.accounts.set_disabled(username, True))
    typer.echo(f"disabled {user.username}")


@users_cli.command("enable")
def users_enable(username: str) -> None:
    """Enable a disabled user."""
    user = _run(lambda s: s.accounts.set_disabled(username, False))
    typer.echo(f"enabled {user.username}")


@users_cli.command("set-scope")
def users_set_scope(
    username: str, scope: Annotated[str, typer.Argument(help="Space-separated scopes.")]
) -> None:
    """Set the scopes a user may be granted; refreshes drop scopes taken away."""
    user = _run(lambda s: s.accounts.set_scope(username, scope))
    typer.echo(f"{user.username} scope={user.scope!r}")


@sessions_cli.command("list")
def sessions_list(
    user: Annotated[str | None, typer.Option(help="Only this user's sessions.")] = None,
) -> None:
    """List live sessions."""

    async def action(services: Services) -> list[str]:
        if user:
            owner = await services.accounts.find(user)
            sessions = await services.sessions.live_for_user(owner.id)
        else:
            sessions = await services.sessions.all_live()
        return [
            f"{s.id}  user={s.user_id}  created={s.created_at:%Y-%m-%d %H:%M}  "
            f"last_used={s.last_used_at:%Y-%m-%d %H:%M}  ip={s.ip}  agent={s.user_agent!r}"
            for s in sessions
        ]

    for line in _run(action):
        typer.echo(line)


@sessions_cli.command("revoke")
def sessions_revoke(
    session_id: Annotated[str | None, typer.Argument(help="The session to end.")] = None,
    user: Annotated[str | None, typer.Option(help="End every session of this user.")] = None,
) -> None:
    """End one session, or every session of a user."""
    if (session_id is None) == (user is None):
        typer.echo("error: give a SESSION_ID or --user, not both", err=True)
        raise typer.Exit(2)

    async def action(services: Services) -> str:
        if user is not None:
            owner = await services.accounts.find(user)
            count = await services.sessions.end_all(owner.id, "revoked_by_admin")
            return f"revoked {count} session(s) of {owner.username}"
        assert session_id is not None
        try:
            parsed = uuid.UUID(session_id)
        except ValueError:
            parsed = uuid.UUID(int=0)
        await services.sessions.end(None, parsed, "revoked_by_admin")
        return f"revoked {parsed}"

    typer.echo(_run(action))


def main() -> None:
    cli(prog_name="tollgate")
