"""Key lifecycle: create, rotate, retire.

A rotated-in key is published in the JWKS at once but signs only from `activates_at`,
one JWKS cache lifetime later, so every verifier has it before the first token signed
with it arrives. The previous key keeps verifying until it is retired, which is safe
once every token it signed has expired.

ID tokens (OpenID Connect) have keys of their own, beside the access-token keys: RS256,
which OpenID Connect Discovery §3 requires every provider to offer, whatever
TOLLGATE_SIGNING_ALG says for access tokens. They are told apart by their kid, which
begins with ID_TOKEN_KID_PREFIX (a kid is ours to choose, RFC 7517 §4.5; the prefix needs
no schema change and shows in `tollgate keys list`). They are rotated and retired like the
others; an access token never names one, an ID token never names another.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from tollgate.clock import utcnow
from tollgate.errors import InvalidRequest, NotFound
from tollgate.events import Event, EventBus
from tollgate.keys.generation import generate_key
from tollgate.keys.sealing import seal
from tollgate.store.interfaces import KeyStore
from tollgate.store.records import KeyRecord

ID_TOKEN_KID_PREFIX = "idt-"  # noqa: S105 - a key id prefix
ID_TOKEN_ALG = "RS256"  # noqa: S105 - an algorithm name
# RFC 7518 §3.3: 2048 bits or more. The ID-token key is made at the first start of every
# new database (each test's too); 3072-bit generation costs several times as much CPU.
ID_TOKEN_RSA_BITS = 2048


def signs_id_tokens(key: KeyRecord) -> bool:
    return key.kid.startswith(ID_TOKEN_KID_PREFIX)


async def create_key(
    keys: KeyStore,
    alg: str,
    secret: str | None,
    *,
    activates_in: float = 0,
    now: datetime | None = None,
    events: EventBus | None = None,
    first: bool = False,
    id_tokens: bool = False,
) -> KeyRecord:
    """A new key, published now, signing from `activates_in` seconds on; audited as
    "key_created" when it is the database's first, else "key_rotated". With `id_tokens`,
    a key that signs only ID tokens (its kid carries ID_TOKEN_KID_PREFIX)."""
    new = generate_key(alg, rsa_bits=ID_TOKEN_RSA_BITS) if id_tokens else generate_key(alg)
    kid = ID_TOKEN_KID_PREFIX + new.kid if id_tokens else new.kid
    now = now or utcnow()
    jwk = {**new.public_jwk, "kid": kid} if new.public_jwk else None
    row = KeyRecord(
        kid=kid,
        alg=new.alg,
        private_key=seal(new.private_key, secret, kid),
        public_jwk=json.dumps(jwk) if jwk else None,
        created_at=now,
        activates_at=now + timedelta(seconds=activates_in),
    )
    detail = f"{row.kid} {row.alg} signs from {row.activates_at:%Y-%m-%d %H:%M:%S} UTC"
    event = Event("key_created" if first else "key_rotated", now, detail=detail)
    await keys.add(row, [event.audit_record()])
    if events is not None:
        await events.publish(event)
    return row


def current_signer(
    keys: Iterable[KeyRecord], now: datetime, *, id_tokens: bool = False
) -> KeyRecord | None:
    """The unretired key that activated last, up to now, whatever its algorithm: the
    database, shared by every replica, says which key signs; never one process's settings.
    Access and refresh tokens by default; with `id_tokens`, ID tokens."""
    live = [
        k
        for k in keys
        if k.retired_at is None and k.activates_at <= now and signs_id_tokens(k) == id_tokens
    ]
    return max(live, key=lambda k: (k.activates_at, k.kid), default=None)


def pending(keys: Iterable[KeyRecord], alg: str, now: datetime) -> KeyRecord | None:
    """An unretired key of `alg` published but not signing yet."""
    waiting = [
        k
        for k in keys
        if k.alg == alg and k.retired_at is None and k.activates_at > now and not signs_id_tokens(k)
    ]
    return min(waiting, key=lambda k: k.activates_at, default=None)


def stopped_signing_at(key: KeyRecord, keys: Iterable[KeyRecord], now: datetime) -> datetime | None:
    """When a newer key took over from this one; None while it is still the newest."""
    later = [
        k.activates_at
        for k in keys
        if key.activates_at < k.activates_at <= now and signs_id_tokens(k) == signs_id_tokens(key)
    ]
    return min(later, default=None)


async def retire(
    store: KeyStore,
    kid: str,
    token_lifetime: int,
    force: bool = False,
    events: EventBus | None = None,
) -> KeyRecord:
    """Stop verifying with a key: tokens it signed fail from now on; audited."""
    keys = await store.all()
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
    event = Event("key_retired", now, detail=kid + (" (forced)" if force else ""))
    if not await store.retire(kid, now, [event.audit_record()]):
        raise NotFound(f"No usable key with kid \u201c{kid}\u201d.")
    if events is not None:
        await events.publish(event)
    return replace(key, retired_at=now)


async def all_keys(store: KeyStore) -> Sequence[KeyRecord]:
    return await store.all()
