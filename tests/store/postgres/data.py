"""Records to store, with fresh ids and names."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta

from tollgate.store.records import RefreshTokenRecord, SessionRecord, UserRecord
from tollgate.store.stores import Stores

DAY = timedelta(days=1)


def utcnow() -> datetime:
    return datetime.now(UTC)


def user_record(name: str | None = None, now: datetime | None = None) -> UserRecord:
    name = name or f"user{secrets.token_hex(4)}"
    now = now or utcnow()
    return UserRecord(
        id=uuid.uuid4(),
        username=name,
        username_key=name.casefold(),
        username_skeleton=f"skeleton-{name.casefold()}",
        email=None,
        password_hash="$argon2id$not-a-real-hash",
        scope="profile",
        disabled=False,
        created_at=now,
        password_changed_at=now,
    )


def token_id() -> str:
    return secrets.token_hex(32)


async def new_user(stores: Stores) -> UserRecord:
    user = user_record()
    await stores.users.create(user)
    return user


async def new_session(
    stores: Stores, user: UserRecord, now: datetime | None = None, max_age: timedelta = 30 * DAY
) -> tuple[SessionRecord, RefreshTokenRecord]:
    now = now or utcnow()
    session = SessionRecord(
        id=uuid.uuid4(),
        user_id=user.id,
        scope=user.scope,
        created_at=now,
        last_used_at=now,
        expires_at=now + max_age,
        user_agent="smoke",
        ip="203.0.113.7",
    )
    first = RefreshTokenRecord(
        id=token_id(), session_id=session.id, issued_at=now, expires_at=now + DAY
    )
    await stores.sessions.start(session, first)
    return session, first
