"""Signing key rows."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tollgate.store.models import SigningKey


async def usable(db: AsyncSession) -> Sequence[SigningKey]:
    """Keys that still verify tokens (not retired), newest first."""
    result = await db.execute(
        select(SigningKey)
        .where(SigningKey.retired_at.is_(None))
        .order_by(SigningKey.activates_at.desc(), SigningKey.kid)
    )
    return result.scalars().all()
