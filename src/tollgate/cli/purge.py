"""`tollgate purge`: drop rows no longer needed, so the database does not grow forever."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from tollgate.cli.runner import run
from tollgate.clock import Clock
from tollgate.services.audit import AuditTrail
from tollgate.services.shared_signals import SharedSignals
from tollgate.settings import Settings
from tollgate.store.interfaces import (
    AuthorizationCodeStore,
    MailTokenStore,
    SecondFactorStore,
    SessionStore,
)

CODE_KEEP_DAYS = 1


def purge(
    session_days: Annotated[
        int, typer.Option(min=0, help="Keep ended sessions this many days (GET /sessions?history).")
    ] = 30,
    audit_days: Annotated[int, typer.Option(min=0, help="Keep audit events this many days.")] = 365,
) -> None:
    """Delete expired refresh tokens, authorization codes and mailed links, long-ended
    sessions, old audit events and security events undelivered past TOLLGATE_SSF_RETENTION.

    Safe to run any time (e.g. daily from cron): nothing deleted can still be used.
    """

    async def action(
        clock: Clock,
        session_store: SessionStore,
        code_store: AuthorizationCodeStore,
        audit: AuditTrail,
        shared_signals: SharedSignals,
        settings: Settings,
        mail_tokens: MailTokenStore,
        factor_store: SecondFactorStore,
    ) -> str:
        now = clock.now()
        sessions, tokens = await session_store.purge(
            now, ended_before=now - timedelta(days=session_days)
        )
        # Kept a day past expiry: a replay within it still finds the code and revokes what
        # it issued (RFC 6749 §4.1.2); a purged code is only "unknown".
        codes = await code_store.purge(now - timedelta(days=CODE_KEEP_DAYS))
        events = await audit.purge(now - timedelta(days=audit_days))
        # Undelivered security events older than TOLLGATE_SSF_RETENTION (issue 16).
        signals = await shared_signals.purge(now - timedelta(seconds=settings.ssf_retention))
        # Reset and verification links (and decoys) past their life (issue 17).
        links = await mail_tokens.purge(now)
        # Expired mfa_tokens and WebAuthn challenges (issue 18): refused already anyway.
        challenges = await factor_store.purge(now)
        return (
            f"deleted {sessions} ended session(s), {tokens} expired refresh token(s), "
            f"{codes} expired authorization code(s), {events} audit event(s), "
            f"{signals} undelivered security event(s), {links} expired mail link(s), "
            f"{challenges} expired mfa challenge(s)"
        )

    typer.echo(run(action))
