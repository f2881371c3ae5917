"""`tollgate keys`: the signing key lifecycle."""

from __future__ import annotations

import base64
from typing import Annotated

import typer

from tollgate.cli.runner import echo_lines, run
from tollgate.clock import utcnow
from tollgate.errors import InvalidRequest, NotFound
from tollgate.events import EventBus
from tollgate.keys import rotation
from tollgate.keys.keyring import DEFAULT_ALG, load_key
from tollgate.settings import Settings, SigningAlg
from tollgate.store.interfaces import KeyStore

app = typer.Typer(help="Signing keys: list, rotate, retire.", no_args_is_help=True)


@app.command("list")
def keys_list() -> None:
    """List keys: which signs now, which only verify, which are pending or retired."""

    async def action(key_store: KeyStore) -> list[str]:
        keys = await rotation.all_keys(key_store)
        now = utcnow()
        signers = {
            signer.kid
            for signer in (
                rotation.current_signer(keys, now),
                rotation.current_signer(keys, now, id_tokens=True),
            )
            if signer is not None
        }
        lines = []
        for key in keys:
            if key.retired_at is not None:
                state = f"retired {key.retired_at:%Y-%m-%d %H:%M}"
            elif key.kid in signers:
                state = "signing ID tokens" if rotation.signs_id_tokens(key) else "signing"
            elif key.activates_at > now:
                state = f"signs from {key.activates_at:%Y-%m-%d %H:%M:%S}"
            else:
                state = "verifying"
            lines.append(
                f"{key.kid}  {key.alg:<6} {state:<28} created={key.created_at:%Y-%m-%d %H:%M}"
            )
        return lines

    echo_lines(run(action))


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
    """Add a new signing key, and a new RS256 key for ID tokens. Each is published at once
    and signs after TOLLGATE_JWKS_MAX_AGE seconds; older keys keep verifying until retired.
    Prints one line per new key, the access-token key first."""

    async def action(key_store: KeyStore, settings: Settings, events: EventBus) -> list[str]:
        signer = rotation.current_signer(await rotation.all_keys(key_store), utcnow())
        activates_in = 0 if now else settings.jwks_max_age
        key = await rotation.create_key(
            key_store,
            alg or settings.signing_alg or (signer.alg if signer else DEFAULT_ALG),
            settings.secret_key,
            activates_in=activates_in,
            events=events,
        )
        id_key = await rotation.create_key(
            key_store,
            rotation.ID_TOKEN_ALG,
            settings.secret_key,
            activates_in=activates_in,
            events=events,
            id_tokens=True,
        )
        return [
            f"{key.kid} {key.alg} signs from {key.activates_at:%Y-%m-%d %H:%M:%S} UTC",
            f"{id_key.kid} {id_key.alg} signs ID tokens from "
            f"{id_key.activates_at:%Y-%m-%d %H:%M:%S} UTC",
        ]

    echo_lines(run(action))


# Key ids are base64url thumbprints, so one in 64 begins with "-": without this, Click
# takes such an id for an unknown option. No retire option is a single letter, so an
# unknown "-…" or "--…" word can only be the key id.
@app.command("retire", context_settings={"ignore_unknown_options": True})
def keys_retire(
    kid: Annotated[str, typer.Argument(help="The key id, as `tollgate keys list` shows it.")],
    force: Annotated[
        bool, typer.Option("--force", help="Retire even if tokens it signed may be valid.")
    ] = False,
) -> None:
    """Stop verifying with a key; tokens it signed are refused from now on."""

    async def action(key_store: KeyStore, settings: Settings, events: EventBus) -> str:
        lifetime = settings.longest_token_lifetime
        key = await rotation.retire(key_store, kid, lifetime, force, events)
        return f"retired {key.kid}"

    typer.echo(run(action))


@app.command("secret")
def keys_secret() -> None:
    """Print the HS256 key id and secret, for the one service that verifies HS256 tokens.

    Two lines, `kid=…` and `secret=…`; the secret is base64url with padding (RFC 4648 §5),
    so decoders that insist on padding (Python's base64.urlsafe_b64decode) take it as is.
    """

    async def action(key_store: KeyStore, settings: Settings) -> tuple[str, bytes]:
        row = rotation.current_signer(await rotation.all_keys(key_store), utcnow())
        if row is None:
            raise NotFound(
                "No key signs yet; start the server or run `tollgate keys rotate --now`."
            )
        if row.alg != "HS256":
            raise InvalidRequest(
                f"The signing key is {row.alg}: only HS256 keys have a shared secret; "
                "other keys are published in the JWKS."
            )
        secret = load_key(row, settings.secret_key).signing_key
        assert isinstance(secret, bytes)
        return row.kid, secret

    kid, secret = run(action)
    typer.echo(f"kid={kid}")
    typer.echo(f"secret={base64.urlsafe_b64encode(secret).decode('ascii')}")
