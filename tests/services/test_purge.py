"""Purging: expired refresh tokens and long-ended sessions go; nothing usable does."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update

from tests.conftest import PASSWORD
from tests.support.db import rows
from tollgate.clock import utcnow
from tollgate.services.container import Services
from tollgate.services.grants import ClientInfo
from tollgate.settings import Settings
from tollgate.store.schema import AuditEventRow, RefreshTokenRow, SessionRow


async def count(services: Services, model: Any) -> int:
    async with rows(services) as db:
        return int(await db.scalar(select(func.count()).select_from(model)) or 0)


async def test_purge_keeps_what_can_still_be_used(
    make_settings: Callable[..., Settings], hasher: Any
) -> None:
    services = await Services.open(make_settings(), hasher, migrate_first=True)
    await services.start()
    try:
        user = await services.accounts.join("minsu", PASSWORD)
        ended = await services.grants.start_session(user, None, ClientInfo())
        await services.sessions.end(user.id, ended.session_id, "logout")
        # That session's refresh token expired a minute ago (set in the row itself).
        async with rows(services) as db:
            await db.execute(
                update(RefreshTokenRow)
                .where(RefreshTokenRow.session_id == ended.session_id)
                .values(expires_at=utcnow() - timedelta(minutes=1))
            )
        live = await services.grants.start_session(user, None, ClientInfo())
        assert await count(services, SessionRow) == 2
        assert await count(services, RefreshTokenRow) == 2

        now = utcnow()
        sessions, tokens = await services.stores.sessions.purge(
            now, ended_before=now - timedelta(days=30)
        )
        assert (sessions, tokens) == (0, 1)  # the ended session is recent: kept for history
        sessions, tokens = await services.stores.sessions.purge(now, ended_before=now)
        assert (sessions, tokens) == (1, 0)
        # The live session and its current token are untouched and still work.
        assert await count(services, SessionRow) == 1
        await services.grants.refresh(live.refresh_token, None)

        assert await services.audit.purge(utcnow() + timedelta(seconds=1)) >= 2
        assert await count(services, AuditEventRow) == 0
    finally:
        await services.close()
