"""`tollgate users`: manage accounts."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from tollgate.cli.runner import echo_lines, run
from tollgate.services.accounts import Accounts
from tollgate.services.mfa import SecondFactors

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

    async def action(accounts: Accounts) -> str:
        user = await accounts.join(username, chosen, email, scope, allow_reserved=True)
        return f"{user.id} {user.username} scope={user.scope!r}"

    typer.echo(run(action))


@app.command("list")
def users_list() -> None:
    """List every user."""

    async def action(accounts: Accounts) -> list[str]:
        return [
            f"{u.id}  {u.username:<24} {'disabled' if u.disabled else 'active  '}  "
            f"scope={u.scope!r}  created={u.created_at:%Y-%m-%d %H:%M}"
            for u in await accounts.list()
        ]

    echo_lines(run(action))


@app.command("disable")
def users_disable(username: str) -> None:
    """Disable a user and end all of their sessions."""
    user = run(lambda accounts: accounts.set_disabled(username, True))
    typer.echo(f"disabled {user.username}")


@app.command("enable")
def users_enable(username: str) -> None:
    """Enable a disabled user."""
    user = run(lambda accounts: accounts.set_disabled(username, False))
    typer.echo(f"enabled {user.username}")


@app.command("set-scope")
def users_set_scope(
    username: str, scope: Annotated[str, typer.Argument(help="Space-separated scopes.")]
) -> None:
    """Set the scopes a user may be granted. Scopes taken away are dropped at each session's
    next refresh; scopes added come with the user's next login (a refresh never widens)."""
    user = run(lambda accounts: accounts.set_scope(username, scope))
    typer.echo(f"{user.username} scope={user.scope!r}")


@app.command("set-password")
def users_set_password(
    username: str,
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin",
            help="Read the password from standard input (its first line) instead of asking.",
        ),
    ] = False,
) -> None:
    """Set a user's password (same policy as sign-up) and end all of their sessions."""
    run(lambda accounts: accounts.find(username))  # before asking: the database and the user exist
    if password_stdin:
        # One line, without its line break; the rest of the input is ignored.
        password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    else:
        password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    ended = run(lambda accounts: accounts.set_password(username, password))
    typer.echo(f"password set for {username}; {ended} session(s) ended")


@app.command("delete")
def users_delete(
    username: str,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a user with their sessions and refresh tokens; the name becomes free again."""
    run(lambda accounts: accounts.find(username))
    if not yes:
        typer.confirm(f"Delete the user {username} and end all of their sessions?", abort=True)
    user = run(lambda accounts: accounts.delete(username))
    typer.echo(f"deleted {user.username} ({user.id})")


@app.command("require-mfa")
def users_require_mfa(
    username: str,
    off: Annotated[bool, typer.Option("--off", help="No longer require it.")] = False,
) -> None:
    """Require a second factor of a user: from the next login, an account without one must
    set up an authenticator app before it gets tokens (TOLLGATE_REQUIRE_MFA: everyone)."""

    async def action(accounts: Accounts, factors: SecondFactors) -> str:
        user = await accounts.find(username)
        await factors.set_required(user, not off)
        return f"{'no longer requiring' if off else 'requiring'} a second factor of {user.username}"

    typer.echo(run(action))


@app.command("reset-mfa")
def users_reset_mfa(username: str) -> None:
    """Remove every second factor and recovery code of a user who lost them all (their
    next login needs the password only, unless a factor is required of them)."""

    async def action(accounts: Accounts, factors: SecondFactors) -> str:
        user = await accounts.find(username)
        gone = await factors.reset(user)
        return f"removed {gone} second factor(s) and the recovery codes of {user.username}"

    typer.echo(run(action))
