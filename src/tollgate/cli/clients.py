"""`tollgate clients`: registered OAuth 2.0 clients (API.md, "Other apps sign in with
Tollgate"), and `tollgate scopes`: what each scope allows, in the operator's words."""

from __future__ import annotations

from typing import Annotated

import typer

from tollgate.cli.runner import echo_lines, run
from tollgate.clock import Clock
from tollgate.errors import InvalidInput, InvalidScope
from tollgate.events import Event
from tollgate.keys.rotation import ID_TOKEN_ALG
from tollgate.services.clients import Clients, Registration
from tollgate.services.scopes import parse_scope
from tollgate.store.interfaces import ScopeStore
from tollgate.store.records import ClientRecord, ScopeDescription

app = typer.Typer(
    help="Registered clients: apps that sign users in, services, resource servers.",
    no_args_is_help=True,
)
scopes_app = typer.Typer(help="Scope descriptions shown on the consent page.", no_args_is_help=True)

MAX_DESCRIPTION = 500


@app.command("create")
def clients_create(
    name: str,
    redirect_uri: Annotated[
        list[str] | None,
        typer.Option(
            "--redirect-uri",
            help="Where codes go (repeatable): https, http on 127.0.0.1/[::1]/localhost "
            "(any port), or a native app's reverse-domain scheme.",
        ),
    ] = None,
    post_logout_redirect_uri: Annotated[
        list[str] | None,
        typer.Option("--post-logout-redirect-uri", help="Where /end-session may send back."),
    ] = None,
    public: Annotated[
        bool, typer.Option("--public", help="No secret: a native or browser app (PKCE only).")
    ] = False,
    scope: Annotated[
        str | None,
        typer.Option(
            "--scope",
            help='The most the client may get, e.g. "openid profile email" (the default with '
            "--redirect-uri).",
        ),
    ] = None,
    grant: Annotated[
        list[str] | None,
        typer.Option(
            "--grant",
            help="authorization_code, refresh_token, client_credentials (repeatable; default "
            "with --redirect-uri: authorization_code and refresh_token).",
        ),
    ] = None,
    trusted: Annotated[
        bool, typer.Option("--trusted", help="A first-party app: no consent screen.")
    ] = False,
    id_token_alg: Annotated[
        str, typer.Option("--id-token-alg", help="ID token signature: RS256, ES256 or EdDSA.")
    ] = ID_TOKEN_ALG,
) -> None:
    """Register a client; prints its id and, unless --public, its secret (shown only now).
    Without --redirect-uri and --grant: a client that only introspects and revokes."""
    registration = Registration(
        name=name,
        redirect_uris=redirect_uri or (),
        post_logout_redirect_uris=post_logout_redirect_uri or (),
        public=public,
        scope=scope,
        grant_types=grant,
        trusted=trusted,
        id_token_alg=id_token_alg,
    )
    client = run(lambda clients: clients.register(registration))
    typer.echo(f"client_id={client.client_id}")
    if client.client_secret is not None:
        typer.echo(f"client_secret={client.client_secret}")


def describe_client(client: ClientRecord) -> str:
    kind = "public" if client.public else "confidential"
    if client.trusted:
        kind += ",trusted"
    parts = [
        f"{client.client_id}  {client.name}  created={client.created_at:%Y-%m-%d %H:%M}",
        kind,
        f"grants={','.join(client.grant_types) or '-'}",
        f'scope="{client.scope}"',
        f"redirect_uris={','.join(client.redirect_uris) or '-'}",
    ]
    if client.post_logout_redirect_uris:
        parts.append(f"post_logout_redirect_uris={','.join(client.post_logout_redirect_uris)}")
    if client.grant_types and client.id_token_signed_response_alg != ID_TOKEN_ALG:
        parts.append(f"id_token_alg={client.id_token_signed_response_alg}")
    return "  ".join(parts)


@app.command("list")
def clients_list() -> None:
    """List registered clients: redirect URIs, grants, scopes, public/trusted."""

    async def action(clients: Clients) -> list[str]:
        return [describe_client(c) for c in await clients.list()]

    echo_lines(run(action))


@app.command("delete")
def clients_delete(name: str) -> None:
    """Remove a client: its secret stops working and its users' sessions with it end."""
    ended = run(lambda clients: clients.delete(name))
    typer.echo(f"deleted {name}; ended {ended} session(s)")


@scopes_app.command("describe")
def scopes_describe(name: str, description: str) -> None:
    """Say what a scope allows; the consent page shows it beside the scope's checkbox."""

    async def action(scope_store: ScopeStore, clock: Clock) -> None:
        try:
            names = parse_scope(name)
        except InvalidScope as exc:
            raise InvalidInput({"name": exc.description}) from exc
        if len(names) != 1:
            raise InvalidInput({"name": "Describe one scope at a time."})
        if not 1 <= len(description.strip()) <= MAX_DESCRIPTION:
            raise InvalidInput(
                {"description": f"A description needs 1 to {MAX_DESCRIPTION} characters."}
            )
        now = clock.now()
        event = Event("scope_described", now, detail=f"{name}: {description.strip()}")
        await scope_store.describe(
            ScopeDescription(name, description.strip(), now), [event.audit_record()]
        )

    run(action)
    typer.echo(f"described {name}")


@scopes_app.command("list")
def scopes_list() -> None:
    """List described scopes and what each allows."""

    async def action(scope_store: ScopeStore) -> list[str]:
        return [f"{s.name}  {s.description}" for s in await scope_store.list()]

    echo_lines(run(action))
