"""`tollgate clients`: registered OAuth 2.0 clients."""

from __future__ import annotations

import typer

from tollgate.cli.runner import echo_lines, run
from tollgate.services.clients import Clients

app = typer.Typer(help="Registered clients (for /introspect).", no_args_is_help=True)


@app.command("create")
def clients_create(name: str) -> None:
    """Register a client; prints its id and secret (the secret is shown only now)."""
    client = run(lambda clients: clients.register(name))
    typer.echo(f"client_id={client.client_id}")
    typer.echo(f"client_secret={client.client_secret}")


@app.command("list")
def clients_list() -> None:
    """List registered clients."""

    async def action(clients: Clients) -> list[str]:
        return [
            f"{c.client_id}  {c.name}  created={c.created_at:%Y-%m-%d %H:%M}"
            for c in await clients.list()
        ]

    echo_lines(run(action))


@app.command("delete")
def clients_delete(name: str) -> None:
    """Remove a client; its secret stops working at once."""
    run(lambda clients: clients.delete(name))
    typer.echo(f"deleted {name}")
