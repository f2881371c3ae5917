"""Key lifecycle: create, rotate, retire.

A rotated-in key is published in the JWKS at once but signs only from `activates_at`,
one JWKS cache lifetime later, so every verifier has it before the first token signed
with it arrives. The previous key keeps verifying until it is retired, which is safe
once every token it signed has expired.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tollgate.errors import InvalidRequest, NotFound
from tollgate.keys.generation import generate_key
from tollgate.keys.sealing import seal
from tollgate.store.models import SigningKey, utcnow


async def create_key(
    sessionmaker: async_sessionmaker[AsyncSession],
    alg: str,
    secret: str | None,
    *,
    activates_in: float = 0,
) -> SigningKey:
    new = generate_key(alg)
    now = utcnow()
    row = SigningKey(
        kid=new.kid,
        alg=new.alg,
        private_key=seal(new.private_key, secret, new.kid),
        public_jwk=json.dumps(new.public_jwk) if new.public_jwk else None,
        created_at=now,
        activates_at=now + timedelta(seconds=activates_in),
    )
    async with sessionmaker.begin() as db:
        db.add(row)
    return row


def current_signer(keys: Iterable[SigningKey], now: datetime) -> SigningKey | None:
    """The unretired key that activated last, up to now, whatever its algorithm: the
    database, shared by every replica, says which key signs; never one process's settings."""
    live = [k for k in keys if k.retired_at is None and k.activates_at <= now]
    return max(live, key=lambda k: (k.activates_at, k.kid), default=None)


def pending(keys: Iterable[SigningKey], alg: str, now: datetime) -> SigningKey | None:
    """An unretired key of `alg` published but not signing yet."""
    waiting = [k for k in keys if k.alg == alg and k.retired_at is None and k.activates_at > now]
    return min(waiting, key=lambda k: k.activates_at, default=None)


def stopped_signing_at(
    key: SigningKey, keys: Iterable[SigningKey], now: datetime
) -> datetime | None:
    """When a newer key took over from this one; None while it is still the newest."""
    later = [k.activates_at for k in keys if key.activates_at < k.activates_at <= now]
    return min(later, default=None)


async def retire(
    sessionmaker: async_sessionmaker[AsyncSession],
    kid: str,
    token_lifetime: int,
    force: bool = False,
) -> SigningKey:
    """Stop verifying with a key: tokens it signed fail from now on."""
    keys = await all_keys(sessionmaker)
    key = next((k for k in keys if k.kid == kid and k.retired_at is None), None)
    if key is None:
        raise NotFound(f"No usable key with kid {kid!r}.")
    now = utcnow()
    if key.activates_at <= now:  # a key that never signed can go at once
        stopped = stopped_signing_at(key, keys, now)
        if stopped is None:
            raise InvalidRequest("This key still signs tokens; rotate first.")
        safe_from = stopped + timedelta(seconds=token_lifetime)
        if safe_from > now and not force:
            raise InvalidRequest(
                f"Tokens signed with this key may be valid until {safe_from:%Y-%m-%d %H:%M} "
                "UTC; retiring it now ends those sessions. Use --force to retire anyway."
            )
    async with sessionmaker.begin() as db:
        await db.execute(update(SigningKey).where(SigningKey.kid == kid).values(retired_at=now))
    key.retired_at = now
    return key


async def all_keys(sessionmaker: async_sessionmaker[AsyncSession]) -> Sequence[SigningKey]:
    async with sessionmaker() as db:
        result = await db.execute(select(SigningKey).order_by(SigningKey.activates_at.desc()))
        return result.scalars().all()
