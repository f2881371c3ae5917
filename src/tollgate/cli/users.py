"""`tollgate users`: manage accounts."""

from __future__ import annotations

from typing import Annotated

import typer

from tollgate.cli.runner import run
from tollgate.services.container import Services

app = typer.Typer(help="Manage user accounts.", no_args_is_help=True)


@app.command("create")
def users_create(
    username: str,
    password: Annotated[
        str | None,
        typer.Option(
            help="The new user's password; asked for (twice, hidden) when not given.",
            show_default=False,
        ),
    ] = None,
    email: Annotated[str | None, typer.Option()] = None,
    scope: Annotated[str | None, typer.Option(help="Space-separated scopes.")] = None,
) -> None:
    """Create a user (the password must pass the same policy as sign-up; reserved names
    such as admin are allowed here)."""
    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    chosen: str = password

    async def action(services: Services) -> str:
        user = await services.accounts.join(username, chosen, email, scope, allow_reserved=True)
        return f"{user.id} {user.username} scope={user.scope!r}"

    typer.echo(run(action))


@app.command("list")
def users_list() -> None:
    """List every user."""

    async def action(services: Services) -> list[str]:
        return [
            f"{u.id}  {u.username:<24} {'disabled' if u.disabled else 'active  '}  "
            f"scope={u.scope!r}  created={u.created_at:%Y-%m-%d %H:%M}"
            for u in await services.accounts.list()
        ]

    for line in run(action):
        typer.echo(line)


@app.command("disable")
def users_disable(username: str) -> None:
    """Disable a user and end all of their sessions."""
    user = run(lambda s: s.accounts.set_disabled(username, True))
    typer.echo(f"disabled {user.username}")


@app.command("enable")
def users_enable(username: str) -> None:
    """Enable a disabled user."""
    user = run(lambda s: s.accounts.set_disabled(username, False))
    typer.echo(f"enabled {user.username}")


@app.command("set-scope")
def users_set_scope(
    username: str, scope: Annotated[str, typer.Argument(help="Space-separated scopes.")]
) -> None:
    """Set the scopes a user may be granted; refreshes drop scopes taken away."""
    user = run(lambda s: s.accounts.set_scope(username, scope))
    typer.echo(f"{user.username} scope={user.scope!r}")
