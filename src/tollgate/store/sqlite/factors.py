"""Second factors (issue 18): each operation one statement or one short transaction on
the database's one writer; reads on the same thread."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Sequence
from datetime import datetime

from tollgate.store.records import (
    ChallengeRecord,
    Conflict,
    FactorSummary,
    PasskeyRecord,
    TotpRecord,
)
from tollgate.store.sqlite.codecs import (
    Row,
    time_text,
    time_text_or_none,
    to_time,
    to_time_or_none,
    to_uuid,
    to_uuid_or_none,
    uuid_text,
    uuid_text_or_none,
)
from tollgate.store.sqlite.connection import ConnectionThread

PASSKEY_COLUMNS = (
    "id, user_id, credential_id, public_key, sign_count, name, created_at, last_used_at, transports"
)
TOTP_BY_USER = "SELECT user_id, secret, created_at, confirmed_at FROM mfa_totp WHERE user_id = ?"
PASSKEYS_BY_USER = (
    f"SELECT {PASSKEY_COLUMNS} FROM mfa_passkeys WHERE user_id = ? ORDER BY created_at, id"
)
PASSKEY_BY_CREDENTIAL = f"SELECT {PASSKEY_COLUMNS} FROM mfa_passkeys WHERE credential_id = ?"
CODES_LEFT = "SELECT count(*) FROM mfa_recovery_codes WHERE user_id = ? AND used_at IS NULL"
REQUIRED = "SELECT 1 FROM mfa_required WHERE user_id = ?"
# A pending secret is replaced; a confirmed one stays (the WHERE of the upsert).
START_TOTP = (
    "INSERT INTO mfa_totp (user_id, secret, created_at, confirmed_at) VALUES (?, ?, ?, NULL) "
    "ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, "
    "created_at = excluded.created_at WHERE mfa_totp.confirmed_at IS NULL"
)
CONFIRM_TOTP = "UPDATE mfa_totp SET confirmed_at = ? WHERE user_id = ? AND confirmed_at IS NULL"
REMOVE_TOTP = "DELETE FROM mfa_totp WHERE user_id = ?"
FORGET_CODES = "DELETE FROM mfa_recovery_codes WHERE user_id = ?"
INSERT_CODE = (
    "INSERT INTO mfa_recovery_codes (user_id, code_hash, created_at, used_at) "
    "VALUES (?, ?, ?, NULL)"
)
USE_CODE = (
    "UPDATE mfa_recovery_codes SET used_at = ? "
    "WHERE user_id = ? AND code_hash = ? AND used_at IS NULL"
)
INSERT_PASSKEY = f"INSERT INTO mfa_passkeys ({PASSKEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
PASSKEY_USED = (
    "UPDATE mfa_passkeys SET sign_count = ?, last_used_at = ? WHERE id = ? AND sign_count = ?"
)
REMOVE_PASSKEY = "DELETE FROM mfa_passkeys WHERE id = ? AND user_id = ?"
REQUIRE = "INSERT INTO mfa_required (user_id, since) VALUES (?, ?) ON CONFLICT DO NOTHING"
UNREQUIRE = "DELETE FROM mfa_required WHERE user_id = ?"
INSERT_CHALLENGE = (
    "INSERT INTO mfa_challenges (id, kind, user_id, data, expires_at) VALUES (?, ?, ?, ?, ?)"
)
CHALLENGE = (
    "SELECT id, kind, user_id, data, expires_at FROM mfa_challenges WHERE id = ? AND expires_at > ?"
)
TAKE_CHALLENGE = (
    "DELETE FROM mfa_challenges WHERE id = ? AND expires_at > ? "
    "RETURNING id, kind, user_id, data, expires_at"
)
PURGE = "DELETE FROM mfa_challenges WHERE expires_at < ?"


def _passkey(row: Row) -> PasskeyRecord:
    return PasskeyRecord(
        id=to_uuid(row[0]),
        user_id=to_uuid(row[1]),
        credential_id=bytes(row[2]),
        public_key=bytes(row[3]),
        sign_count=row[4],
        name=row[5],
        created_at=to_time(row[6]),
        last_used_at=to_time_or_none(row[7]),
        transports=tuple(row[8].split()),
    )


def _challenge(row: Row | None) -> ChallengeRecord | None:
    if row is None:
        return None
    return ChallengeRecord(row[0], row[1], to_uuid_or_none(row[2]), row[3], to_time(row[4]))


def _factors(connection: sqlite3.Connection, user: str) -> FactorSummary:
    found = connection.execute(TOTP_BY_USER, (user,)).fetchone()
    totp = (
        None
        if found is None
        else TotpRecord(
            to_uuid(found[0]), bytes(found[1]), to_time(found[2]), to_time_or_none(found[3])
        )
    )
    passkeys = tuple(_passkey(r) for r in connection.execute(PASSKEYS_BY_USER, (user,)))
    left = connection.execute(CODES_LEFT, (user,)).fetchone()[0]
    required = connection.execute(REQUIRED, (user,)).fetchone() is not None
    return FactorSummary(totp, passkeys, left, required)


def _start_totp(connection: sqlite3.Connection, totp: TotpRecord) -> bool:
    params = (uuid_text(totp.user_id), totp.secret, time_text(totp.created_at))
    return connection.execute(START_TOTP, params).rowcount == 1


def _replace_codes(
    connection: sqlite3.Connection, user: str, hashes: Sequence[str], now: str
) -> None:
    connection.execute(FORGET_CODES, (user,))
    connection.executemany(INSERT_CODE, [(user, h, now) for h in hashes])


def _confirm_totp(
    connection: sqlite3.Connection, user: str, now: str, hashes: Sequence[str]
) -> bool:
    if connection.execute(CONFIRM_TOTP, (now, user)).rowcount != 1:
        return False
    _replace_codes(connection, user, hashes, now)
    return True


def _add_passkey(connection: sqlite3.Connection, passkey: PasskeyRecord) -> None:
    try:
        connection.execute(
            INSERT_PASSKEY,
            (
                uuid_text(passkey.id),
                uuid_text(passkey.user_id),
                passkey.credential_id,
                passkey.public_key,
                passkey.sign_count,
                passkey.name,
                time_text(passkey.created_at),
                time_text_or_none(passkey.last_used_at),
                " ".join(passkey.transports),
            ),
        )
    except sqlite3.IntegrityError as exc:
        if "credential_id" in str(exc):
            raise Conflict("credential_id") from exc
        raise


def _set_required(connection: sqlite3.Connection, user: str, required: bool, now: str) -> None:
    if required:
        connection.execute(REQUIRE, (user, now))
    else:
        connection.execute(UNREQUIRE, (user,))


def _rowcount(connection: sqlite3.Connection, sql: str, params: Row) -> int:
    return connection.execute(sql, params).rowcount


def _one(connection: sqlite3.Connection, sql: str, params: Row) -> Row | None:
    # fetchall: a DELETE ... RETURNING finishes before the transaction commits.
    rows = connection.execute(sql, params).fetchall()
    return tuple(rows[0]) if rows else None


class SqliteSecondFactorStore:
    def __init__(self, thread: ConnectionThread) -> None:
        self._thread = thread

    async def factors(self, user_id: uuid.UUID) -> FactorSummary:
        return await self._thread.call(_factors, uuid_text(user_id))

    async def start_totp(self, totp: TotpRecord) -> bool:
        return await self._thread.write(_start_totp, totp)

    async def confirm_totp(
        self, user_id: uuid.UUID, now: datetime, recovery_hashes: Sequence[str]
    ) -> bool:
        return await self._thread.write(
            _confirm_totp, uuid_text(user_id), time_text(now), recovery_hashes
        )

    async def remove_totp(self, user_id: uuid.UUID) -> bool:
        return await self._thread.write(_rowcount, REMOVE_TOTP, (uuid_text(user_id),)) == 1

    async def replace_recovery_codes(
        self, user_id: uuid.UUID, hashes: Sequence[str], now: datetime
    ) -> None:
        await self._thread.write(_replace_codes, uuid_text(user_id), hashes, time_text(now))

    async def use_recovery_code(self, user_id: uuid.UUID, code_hash: str, now: datetime) -> bool:
        params = (time_text(now), uuid_text(user_id), code_hash)
        return await self._thread.write(_rowcount, USE_CODE, params) == 1

    async def add_passkey(self, passkey: PasskeyRecord) -> None:
        await self._thread.write(_add_passkey, passkey)

    async def passkey(self, credential_id: bytes) -> PasskeyRecord | None:
        row = await self._thread.call(_one, PASSKEY_BY_CREDENTIAL, (credential_id,))
        return None if row is None else _passkey(row)

    async def passkey_used(
        self, passkey_id: uuid.UUID, seen_count: int, sign_count: int, now: datetime
    ) -> bool:
        params = (sign_count, time_text(now), uuid_text(passkey_id), seen_count)
        return await self._thread.write(_rowcount, PASSKEY_USED, params) == 1

    async def remove_passkey(self, user_id: uuid.UUID, passkey_id: uuid.UUID) -> bool:
        params = (uuid_text(passkey_id), uuid_text(user_id))
        return await self._thread.write(_rowcount, REMOVE_PASSKEY, params) == 1

    async def set_required(self, user_id: uuid.UUID, required: bool, now: datetime) -> None:
        await self._thread.write(_set_required, uuid_text(user_id), required, time_text(now))

    async def add_challenge(self, challenge: ChallengeRecord) -> None:
        params = (
            challenge.id,
            challenge.kind,
            uuid_text_or_none(challenge.user_id),
            challenge.data,
            time_text(challenge.expires_at),
        )
        await self._thread.write(_rowcount, INSERT_CHALLENGE, params)

    async def challenge(self, challenge_id: str, now: datetime) -> ChallengeRecord | None:
        return _challenge(await self._thread.call(_one, CHALLENGE, (challenge_id, time_text(now))))

    async def take_challenge(self, challenge_id: str, now: datetime) -> ChallengeRecord | None:
        row = await self._thread.write(_one, TAKE_CHALLENGE, (challenge_id, time_text(now)))
        return _challenge(row)

    async def purge(self, before: datetime) -> int:
        return await self._thread.write(_rowcount, PURGE, (time_text(before),))
