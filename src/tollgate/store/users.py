"""User rows: lookups and changes, no rules (those live in services/)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tollgate.store.models import User, utcnow


async def by_id(db: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await db.get(User, user_id)


async def by_username_key(db: AsyncSession, username_key: str) -> User | None:
    result = await db.execute(select(User).where(User.username_key == username_key))
    return result.scalar_one_or_none()


async def all_users(db: AsyncSession) -> Sequence[User]:
    result = await db.execute(select(User).order_by(User.created_at))
    return result.scalars().all()


async def update_user(db: AsyncSession, user_id: uuid.UUID, **values: object) -> None:
    await db.execute(update(User).where(User.id == user_id).values(**values))


async def set_password_hash(db: AsyncSession, user_id: uuid.UUID, password_hash: str) -> None:
    await db.execute(
        update(User)
        .where(User.id == user_id)
        .values(password_hash=password_hash, password_changed_at=utcnow())
    )


async def upgrade_password_hash(
    db: AsyncSession, user_id: uuid.UUID, old_hash: str, new_hash: str
) -> None:
    # Only if unchanged meanwhile: a concurrent password change must win over a rehash.
    await db.execute(
        update(User)
        .where(User.id == user_id, User.password_hash == old_hash)
        .values(password_hash=new_hash)
    )


async def delete_user(db: AsyncSession, user_id: uuid.UUID) -> bool:
    """Delete the user; the schema's ON DELETE CASCADE takes their sessions and refresh
    tokens with it (SQLite enforces it with PRAGMA foreign_keys=ON, store.engine)."""
    result = await db.execute(
        delete(User).where(User.id == user_id).execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))
