"""`tollgate keys`: the signing key lifecycle."""

from __future__ import annotations

from typing import Annotated

import typer

from tollgate.cli.runner import run
from tollgate.errors import InvalidRequest
from tollgate.keys import rotation
from tollgate.keys.generation import b64url
from tollgate.services.container import Services
from tollgate.settings import SigningAlg
from tollgate.store.models import utcnow

app = typer.Typer(help="Signing keys: list, rotate, retire.", no_args_is_help=True)


@app.command("list")
def keys_list() -> None:
    """List keys: which signs now, which only verify, which are pending or retired."""

    async def action(services: Services) -> list[str]:
        keys = await rotation.all_keys(services.sessionmaker)
        now = utcnow()
        signer = rotation.current_signer(keys, now)
        lines = []
        for key in keys:
            if key.retired_at is not None:
                state = f"retired {key.retired_at:%Y-%m-%d %H:%M}"
            elif signer is not None and key.kid == signer.kid:
                state = "signing"
            elif key.activates_at > now:
                state = f"signs from {key.activates_at:%Y-%m-%d %H:%M:%S}"
            else:
                state = "verifying"
            lines.append(
                f"{key.kid}  {key.alg:<6} {state:<28} created={key.created_at:%Y-%m-%d %H:%M}"
            )
        return lines

    for line in run(action):
        typer.echo(line)


@app.command("rotate")
def keys_rotate(
    now: Annotated[
        bool, typer.Option("--now", help="Sign with the new key at once (no JWKS overlap).")
    ] = False,
    alg: Annotated[
        SigningAlg | None,
        typer.Option(
            "--alg",
            help="Algorithm of the new key (default: TOLLGATE_SIGNING_ALG or the current one).",
        ),
    ] = None,
) -> None:
    """Add a new signing key. It is published at once and signs after TOLLGATE_JWKS_MAX_AGE
    seconds; older keys keep verifying until retired."""

    async def action(services: Services) -> str:
        s = services.settings
        signer = await services.keyring.signer()
        key = await rotation.create_key(
            services.sessionmaker,
            alg or s.signing_alg or signer.alg,
            s.secret_key,
            activates_in=0 if now else s.jwks_max_age,
        )
        summary = f"{key.kid} {key.alg} signs from {key.activates_at:%Y-%m-%d %H:%M:%S} UTC"
        await services.audit.record("key_rotated", detail=summary)
        return summary

    typer.echo(run(action))


@app.command("retire")
def keys_retire(
    kid: str,
    force: Annotated[
        bool, typer.Option("--force", help="Retire even if tokens it signed may be valid.")
    ] = False,
) -> None:
    """Stop verifying with a key; tokens it signed are refused from now on."""

    async def action(services: Services) -> str:
        lifetime = services.settings.longest_token_lifetime
        key = await rotation.retire(services.sessionmaker, kid, lifetime, force)
        await services.audit.record("key_retired", detail=key.kid + (" (forced)" if force else ""))
        return f"retired {key.kid}"

    typer.echo(run(action))


@app.command("secret")
def keys_secret() -> None:
    """Print the HS256 secret (base64url) for the one service that verifies HS256 tokens."""

    async def action(services: Services) -> str:
        key = await services.keyring.signer()
        if not isinstance(key.signing_key, bytes):
            raise InvalidRequest("Only HS256 keys have a shared secret; others use the JWKS.")
        return f"{key.kid} {b64url(key.signing_key)}"

    typer.echo(run(action))
