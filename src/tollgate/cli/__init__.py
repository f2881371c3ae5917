"""The `tollgate` command: serve, migrate, and the admin command groups."""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Annotated, Any

import typer
import uvicorn

from tollgate import __version__
from tollgate.app import create_server
from tollgate.cli import audit, clients, keys, purge, sessions, users
from tollgate.cli.logs import server_logging
from tollgate.cli.runner import run
from tollgate.settings import WILDCARD_HOSTS, Settings
from tollgate.store.interfaces import Database

cli = typer.Typer(help="Tollgate: a self-hostable JWT authentication server.", no_args_is_help=True)
cli.add_typer(users.app, name="users")
cli.add_typer(sessions.app, name="sessions")
cli.add_typer(keys.app, name="keys")
cli.add_typer(clients.app, name="clients")
cli.add_typer(clients.scopes_app, name="scopes")
cli.command("audit")(audit.audit)
cli.command("purge")(purge.purge)


def show_version(wanted: bool) -> None:
    if wanted:
        typer.echo(f"tollgate {__version__}")
        raise typer.Exit()


@cli.callback()
def options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=show_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Tollgate: a self-hostable JWT authentication server."""


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    graceful_timeout: Annotated[
        int, typer.Option(help="Seconds in-flight requests get to finish on SIGTERM.")
    ] = 30,
) -> None:
    """Migrate the database, make a signing key if there is none, and serve HTTP."""
    settings = Settings(host=host, port=port)
    problem = workers_problem(settings, workers)
    if problem:
        typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(2)
    if settings.issuer_is_guessed and host in WILDCARD_HOSTS:
        typer.echo(
            f"warning: TOLLGATE_ISSUER is not set and --host {host} is no address a client can "
            f"use; tokens name {settings.issuer} as their issuer. Set TOLLGATE_ISSUER to the "
            "URL clients and verifiers reach Tollgate at.",
            err=True,
        )

    async def prepare() -> None:
        return None

    # Once, before any worker starts, so workers never race to migrate or make keys.
    run(prepare, settings, migrate=True)
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": log_level,
        "log_config": server_logging(),
        "access_log": False,  # Tollgate writes its own JSON access lines with request ids
        "timeout_graceful_shutdown": graceful_timeout,
        # The app reads proxy headers itself (api/forwarded.py), once.
        "proxy_headers": False,
    }
    if workers == 1:
        uvicorn.run(create_server(settings), **options)
        return
    # Worker processes build their own app from the environment: pass host and port on so
    # their default issuer matches, and a folder where they pool their metrics.
    metrics_dir = tempfile.mkdtemp(prefix="tollgate-metrics-")
    os.environ["TOLLGATE_HOST"] = host
    os.environ["TOLLGATE_PORT"] = str(port)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    os.environ["WEB_CONCURRENCY"] = str(workers)  # the workers share the cores' hashing
    try:
        uvicorn.run("tollgate.app:create_server", factory=True, workers=workers, **options)
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


def workers_problem(settings: Settings, workers: int) -> str | None:
    """Why `workers` processes cannot serve with these settings, or None.

    Brute-force counters kept in memory are per process: N workers would allow N times
    the configured failures. So several workers need the counters in Redis.
    """
    if workers > 1 and settings.rate_limit_enabled and not settings.redis_url:
        return (
            f"--workers {workers} needs TOLLGATE_REDIS_URL: the brute-force limits are counted "
            "in memory per process, so without a shared Redis each worker would allow the "
            "limit again. Set TOLLGATE_REDIS_URL, or run one worker (for load tests only: "
            "TOLLGATE_RATE_LIMIT_ENABLED=false)."
        )
    return None


@cli.command()
def migrate() -> None:
    """Apply database migrations up to the newest."""

    async def action(database: Database) -> str | None:
        return await database.schema_revision()

    revision = run(action, migrate=True)
    typer.echo(f"database at revision {revision}")


def main() -> None:
    cli(prog_name="tollgate")
