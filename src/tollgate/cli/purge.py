"""`tollgate purge`: drop rows no longer needed, so the database does not grow forever."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from tollgate.cli.runner import run
from tollgate.clock import Clock
from tollgate.services.audit import AuditTrail
from tollgate.store.interfaces import SessionStore


def purge(
    session_days: Annotated[
        int, typer.Option(min=0, help="Keep ended sessions this many days (GET /sessions?history).")
    ] = 30,
    audit_days: Annotated[int, typer.Option(min=0, help="Keep audit events this many days.")] = 365,
) -> None:
    """Delete expired refresh tokens, long-ended sessions and old audit events.

    Safe to run any time (e.g. daily from cron): nothing deleted can still be used.
    """

    async def action(clock: Clock, session_store: SessionStore, audit: AuditTrail) -> str:
        now = clock.now()
        sessions, tokens = await session_store.purge(
            now, ended_before=now - timedelta(days=session_days)
        )
        events = await audit.purge(now - timedelta(days=audit_days))
        return (
            f"deleted {sessions} ended session(s), {tokens} expired refresh token(s), "
            f"{events} audit event(s)"
        )

    typer.echo(run(action))
