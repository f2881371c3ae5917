"""Second factors (issue 18): one statement per operation (confirming a secret replaces
the recovery codes in the same statement, through data-modifying CTEs)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from asyncpg import Record

from tollgate.store.postgres.pool import Connections
from tollgate.store.postgres.rows import utc, utc_or_none
from tollgate.store.records import (
    ChallengeRecord,
    FactorSummary,
    PasskeyRecord,
    TotpRecord,
)

_PASSKEY = (
    "id, user_id, credential_id, public_key, sign_count, name, created_at, last_used_at, transports"
)
_FACTORS = f"""
SELECT
  (SELECT row(secret, created_at, confirmed_at) FROM mfa_totp WHERE user_id = $1) AS totp,
  (SELECT coalesce(array_agg(row({_PASSKEY}) ORDER BY created_at, id), '{{}}')
     FROM mfa_passkeys WHERE user_id = $1) AS passkeys,
  (SELECT count(*) FROM mfa_recovery_codes WHERE user_id = $1 AND used_at IS NULL) AS left_,
  EXISTS (SELECT FROM mfa_required WHERE user_id = $1) AS required
"""
_START_TOTP = """
INSERT INTO mfa_totp (user_id, secret, created_at, confirmed_at) VALUES ($1, $2, $3, NULL)
ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, created_at = excluded.created_at
WHERE mfa_totp.confirmed_at IS NULL
"""
_CONFIRM_TOTP = """
WITH confirmed AS (
  UPDATE mfa_totp SET confirmed_at = $2 WHERE user_id = $1 AND confirmed_at IS NULL
  RETURNING user_id
), forgotten AS (
  DELETE FROM mfa_recovery_codes WHERE user_id = $1 AND EXISTS (SELECT FROM confirmed)
), added AS (
  INSERT INTO mfa_recovery_codes (user_id, code_hash, created_at)
  SELECT $1, h, $2 FROM unnest($3::varchar[]) AS h WHERE EXISTS (SELECT FROM confirmed)
)
SELECT EXISTS (SELECT FROM confirmed)
"""
_REPLACE_CODES = """
WITH forgotten AS (DELETE FROM mfa_recovery_codes WHERE user_id = $1)
INSERT INTO mfa_recovery_codes (user_id, code_hash, created_at)
SELECT $1, h, $2 FROM unnest($3::varchar[]) AS h
"""
_REMOVE_TOTP = "DELETE FROM mfa_totp WHERE user_id = $1"
_USE_CODE = """
UPDATE mfa_recovery_codes SET used_at = $3
WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL
"""
_ADD_PASSKEY = f"INSERT INTO mfa_passkeys ({_PASSKEY}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
_PASSKEY_BY_CREDENTIAL = f"SELECT {_PASSKEY} FROM mfa_passkeys WHERE credential_id = $1"
_PASSKEY_USED = """
UPDATE mfa_passkeys SET sign_count = $3, last_used_at = $4 WHERE id = $1 AND sign_count = $2
"""
_REMOVE_PASSKEY = "DELETE FROM mfa_passkeys WHERE id = $1 AND user_id = $2"
_REQUIRE = "INSERT INTO mfa_required (user_id, since) VALUES ($1, $2) ON CONFLICT DO NOTHING"
_UNREQUIRE = "DELETE FROM mfa_required WHERE user_id = $1"
_ADD_CHALLENGE = (
    "INSERT INTO mfa_challenges (id, kind, user_id, data, expires_at) VALUES ($1, $2, $3, $4, $5)"
)
_CHALLENGE = (
    "SELECT id, kind, user_id, data, expires_at FROM mfa_challenges "
    "WHERE id = $1 AND expires_at > $2"
)
_TAKE_CHALLENGE = (
    "DELETE FROM mfa_challenges WHERE id = $1 AND expires_at > $2 "
    "RETURNING id, kind, user_id, data, expires_at"
)
_PURGE = "DELETE FROM mfa_challenges WHERE expires_at < $1"


def _passkey(row: Record | tuple[object, ...]) -> PasskeyRecord:
    (id_, user_id, credential, public_key, count, name, created, used, transports) = tuple(row)
    assert isinstance(created, datetime)
    return PasskeyRecord(
        id=id_,
        user_id=user_id,
        credential_id=bytes(credential),
        public_key=bytes(public_key),
        sign_count=int(count),
        name=str(name),
        created_at=utc(created),
        last_used_at=utc_or_none(used),
        transports=tuple(str(transports).split()),
    )


def _challenge(row: Record) -> ChallengeRecord:
    return ChallengeRecord(
        row["id"], row["kind"], row["user_id"], row["data"], utc(row["expires_at"])
    )


class PostgresSecondFactorStore:
    def __init__(self, connections: Connections) -> None:
        self._db = connections

    async def factors(self, user_id: uuid.UUID) -> FactorSummary:
        row = await self._db.fetchrow(_FACTORS, user_id)
        assert row is not None
        found = row["totp"]
        totp = (
            None
            if found is None
            else TotpRecord(user_id, bytes(found[0]), utc(found[1]), utc_or_none(found[2]))
        )
        passkeys = tuple(_passkey(p) for p in row["passkeys"])
        return FactorSummary(totp, passkeys, int(row["left_"]), bool(row["required"]))

    async def start_totp(self, totp: TotpRecord) -> bool:
        args = (totp.user_id, totp.secret, totp.created_at)
        return await self._db.execute(_START_TOTP, *args) == 1

    async def confirm_totp(
        self, user_id: uuid.UUID, now: datetime, recovery_hashes: Sequence[str]
    ) -> bool:
        return bool(await self._db.fetchval(_CONFIRM_TOTP, user_id, now, list(recovery_hashes)))

    async def remove_totp(self, user_id: uuid.UUID) -> bool:
        return await self._db.execute(_REMOVE_TOTP, user_id) == 1

    async def replace_recovery_codes(
        self, user_id: uuid.UUID, hashes: Sequence[str], now: datetime
    ) -> None:
        await self._db.execute(_REPLACE_CODES, user_id, now, list(hashes))

    async def use_recovery_code(self, user_id: uuid.UUID, code_hash: str, now: datetime) -> bool:
        return await self._db.execute(_USE_CODE, user_id, code_hash, now) == 1

    async def add_passkey(self, passkey: PasskeyRecord) -> None:
        # A taken credential id: Conflict("credential_id") (postgres/errors.py).
        await self._db.execute(
            _ADD_PASSKEY,
            passkey.id,
            passkey.user_id,
            passkey.credential_id,
            passkey.public_key,
            passkey.sign_count,
            passkey.name,
            passkey.created_at,
            passkey.last_used_at,
            " ".join(passkey.transports),
        )

    async def passkey(self, credential_id: bytes) -> PasskeyRecord | None:
        return await self._db.one(_passkey, _PASSKEY_BY_CREDENTIAL, credential_id)

    async def passkey_used(
        self, passkey_id: uuid.UUID, seen_count: int, sign_count: int, now: datetime
    ) -> bool:
        return await self._db.execute(_PASSKEY_USED, passkey_id, seen_count, sign_count, now) == 1

    async def remove_passkey(self, user_id: uuid.UUID, passkey_id: uuid.UUID) -> bool:
        return await self._db.execute(_REMOVE_PASSKEY, passkey_id, user_id) == 1

    async def set_required(self, user_id: uuid.UUID, required: bool, now: datetime) -> None:
        if required:
            await self._db.execute(_REQUIRE, user_id, now)
        else:
            await self._db.execute(_UNREQUIRE, user_id)

    async def add_challenge(self, challenge: ChallengeRecord) -> None:
        await self._db.execute(
            _ADD_CHALLENGE,
            challenge.id,
            challenge.kind,
            challenge.user_id,
            challenge.data,
            challenge.expires_at,
        )

    async def challenge(self, challenge_id: str, now: datetime) -> ChallengeRecord | None:
        return await self._db.one(_challenge, _CHALLENGE, challenge_id, now)

    async def take_challenge(self, challenge_id: str, now: datetime) -> ChallengeRecord | None:
        return await self._db.one(_challenge, _TAKE_CHALLENGE, challenge_id, now)

    async def purge(self, before: datetime) -> int:
        return await self._db.execute(_PURGE, before)
