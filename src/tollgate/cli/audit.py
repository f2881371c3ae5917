"""`tollgate audit`: the security event trail."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from tollgate.cli.runner import echo_lines, run
from tollgate.clock import utcnow
from tollgate.services.accounts import Accounts
from tollgate.services.audit import AuditTrail
from tollgate.store.records import AuditQuery

UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(value: str) -> datetime:
    """`30m`, `12h`, `7d`, `2w`, or an ISO date/time (UTC when no zone is given)."""
    match = re.fullmatch(r"(\d+)([mhdw])", value.strip())
    if match:
        return utcnow() - timedelta(**{UNITS[match.group(2)]: int(match.group(1))})
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter("use e.g. 30m, 12h, 7d or 2026-11-01") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def audit(
    user: Annotated[str | None, typer.Option(help="Only this user's events.")] = None,
    since: Annotated[
        str | None, typer.Option(help="Only events since: 30m, 12h, 7d, or an ISO date.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 200,
) -> None:
    """Print security events: logins, failures, reuse detected, logouts, lockouts, keys."""
    since_at = parse_since(since) if since else None

    async def action(accounts: Accounts, audit: AuditTrail) -> list[str]:
        user_id = (await accounts.find(user)).id if user else None
        events = await audit.events(AuditQuery(user_id=user_id, since=since_at, limit=limit))
        return [
            f"{e.at:%Y-%m-%d %H:%M:%S}  {e.event:<24} user={e.username or e.user_id or '-'}  "
            f"ip={e.ip or '-'}  session={e.session_id or '-'}  agent={e.user_agent or '-'}"
            + (f"  ({e.detail})" if e.detail else "")
            for e in events
        ]

    echo_lines(run(action))
