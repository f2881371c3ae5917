"""`tollgate sessions`: list and end sessions."""

from __future__ import annotations

import uuid
from typing import Annotated

import typer

from tollgate.cli.runner import echo_lines, run
from tollgate.services.accounts import Accounts
from tollgate.services.sessions import Sessions

app = typer.Typer(help="List and end sessions.", no_args_is_help=True)


@app.command("list")
def sessions_list(
    user: Annotated[str | None, typer.Option(help="Only this user's sessions.")] = None,
) -> None:
    """List live sessions."""

    async def action(accounts: Accounts, sessions: Sessions) -> list[str]:
        if user:
            owner = await accounts.find(user)
            live = await sessions.live_for_user(owner.id)
        else:
            live = await sessions.all_live()
        return [
            f"{s.id}  user={s.user_id}  created={s.created_at:%Y-%m-%d %H:%M}  "
            f"last_used={s.last_used_at:%Y-%m-%d %H:%M}  ip={s.ip}  agent={s.user_agent!r}"
            for s in live
        ]

    echo_lines(run(action))


@app.command("revoke")
def sessions_revoke(
    session_id: Annotated[str | None, typer.Argument(help="The session to end.")] = None,
    user: Annotated[str | None, typer.Option(help="End every session of this user.")] = None,
) -> None:
    """End one session, or every session of a user."""
    if (session_id is None) == (user is None):
        typer.echo("error: give a SESSION_ID or --user, not both", err=True)
        raise typer.Exit(2)

    async def action(accounts: Accounts, sessions: Sessions) -> str:
        if user is not None:
            owner = await accounts.find(user)
            count = await sessions.end_all(owner.id, "revoked_by_admin")
            return f"revoked {count} session(s) of {owner.username}"
        assert session_id is not None
        try:
            parsed = uuid.UUID(session_id)
        except ValueError:
            parsed = uuid.UUID(int=0)
        await sessions.end(None, parsed, "revoked_by_admin")
        return f"revoked {parsed}"

    typer.echo(run(action))
