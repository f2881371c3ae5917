"""Session and refresh-token rows, including the compare-and-set that makes rotation single-use."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, CursorResult, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tollgate.store.models import RefreshToken, Session, User


def _is_live(now: datetime) -> ColumnElement[bool]:
    return (Session.revoked_at.is_(None)) & (Session.expires_at > now)


async def by_id(db: AsyncSession, session_id: uuid.UUID) -> Session | None:
    return await db.get(Session, session_id)


async def live_by_id(db: AsyncSession, session_id: uuid.UUID, now: datetime) -> Session | None:
    result = await db.execute(select(Session).where(Session.id == session_id, _is_live(now)))
    return result.scalar_one_or_none()


async def live_for_user(db: AsyncSession, user_id: uuid.UUID, now: datetime) -> Sequence[Session]:
    result = await db.execute(
        select(Session)
        .where(Session.user_id == user_id, _is_live(now))
        .order_by(Session.last_used_at.desc())
    )
    return result.scalars().all()


async def ended_for_user(
    db: AsyncSession, user_id: uuid.UUID, since: datetime
) -> Sequence[Session]:
    """Sessions revoked since then, newest first: the user's own security history."""
    result = await db.execute(
        select(Session)
        .where(Session.user_id == user_id, Session.revoked_at >= since)
        .order_by(Session.revoked_at.desc())
        .limit(100)
    )
    return result.scalars().all()


async def all_live(db: AsyncSession, now: datetime) -> Sequence[Session]:
    result = await db.execute(select(Session).where(_is_live(now)).order_by(Session.created_at))
    return result.scalars().all()


async def revoke(
    db: AsyncSession,
    session_id: uuid.UUID,
    reason: str,
    now: datetime,
    owner: uuid.UUID | None = None,
) -> bool:
    """Revoke a live session (of `owner` only, when given); False if there was none."""
    condition = (Session.id == session_id) & _is_live(now)
    if owner is not None:
        condition &= Session.user_id == owner
    result = await db.execute(
        update(Session)
        .where(condition)
        .values(revoked_at=now, revoked_reason=reason)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


async def revoke_all_for_user(
    db: AsyncSession,
    user_id: uuid.UUID,
    reason: str,
    now: datetime,
    keep: uuid.UUID | None = None,
) -> int:
    condition = (Session.user_id == user_id) & Session.revoked_at.is_(None)
    if keep is not None:
        condition &= Session.id != keep
    result = await db.execute(
        update(Session)
        .where(condition)
        .values(revoked_at=now, revoked_reason=reason)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result)


async def user_seen_from(db: AsyncSession, username_key: str, ip: str, since: datetime) -> bool:
    """Has the account with this name logged in from this address since then?"""
    result = await db.execute(
        select(Session.id)
        .join(User, User.id == Session.user_id)
        .where(User.username_key == username_key, Session.ip == ip, Session.created_at >= since)
        .limit(1)
    )
    return result.first() is not None


async def touch(db: AsyncSession, session_id: uuid.UUID, now: datetime) -> None:
    await db.execute(
        update(Session)
        .where(Session.id == session_id)
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )


async def refresh_token(db: AsyncSession, token_id: str) -> RefreshToken | None:
    return await db.get(RefreshToken, token_id)


async def claim_refresh_token(
    db: AsyncSession, token_id: str, child_id: str, now: datetime
) -> uuid.UUID | None:
    """Mark a refresh token used, once: its session id for exactly one of any concurrent
    callers, None for the others (and for unknown tokens).

    A conditional UPDATE is a compare-and-set on every database: PostgreSQL makes the
    losers wait on the row lock and then re-check `used_at`; SQLite serializes writers.
    """
    result = await db.execute(
        update(RefreshToken)
        .where(RefreshToken.id == token_id, RefreshToken.used_at.is_(None))
        .values(used_at=now, replaced_by=child_id)
        .returning(RefreshToken.session_id)
        .execution_options(synchronize_session=False)
    )
    return result.scalar_one_or_none()


async def live_with_user(
    db: AsyncSession, session_id: uuid.UUID, now: datetime
) -> tuple[Session, User] | None:
    """A live session and its user, in one query."""
    result = await db.execute(
        select(Session, User)
        .join(User, User.id == Session.user_id)
        .where(Session.id == session_id, _is_live(now))
    )
    row = result.first()
    return None if row is None else (row[0], row[1])


def _rowcount(result: object) -> int:
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


async def purge(db: AsyncSession, now: datetime, ended_before: datetime) -> tuple[int, int]:
    """Delete refresh-token rows past their expiry (a token that old fails its `exp` check
    before any row is read) and sessions that ended before `ended_before`, with their
    tokens. Returns (sessions, refresh tokens) deleted."""
    tokens = await db.execute(
        delete(RefreshToken)
        .where(RefreshToken.expires_at < now)
        .execution_options(synchronize_session=False)
    )
    ended = (Session.revoked_at < ended_before) | (Session.expires_at < ended_before)
    sessions = await db.execute(
        delete(Session).where(ended).execution_options(synchronize_session=False)
    )
    return _rowcount(sessions), _rowcount(tokens)
