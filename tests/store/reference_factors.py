"""The reference (in-memory) SecondFactorStore: `tollgate.store.interfaces` in plain
Python, beside reference.py. One lock around each method makes it one transaction."""

from __future__ import annotations

import asyncio
import dataclasses
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


class ReferenceSecondFactors:
    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._totp: dict[uuid.UUID, TotpRecord] = {}
        # (user, code hash) -> used_at
        self._codes: dict[tuple[uuid.UUID, str], datetime | None] = {}
        self._passkeys: dict[uuid.UUID, PasskeyRecord] = {}
        self._required: set[uuid.UUID] = set()
        self._challenges: dict[str, ChallengeRecord] = {}

    async def factors(self, user_id: uuid.UUID) -> FactorSummary:
        passkeys = sorted(
            (p for p in self._passkeys.values() if p.user_id == user_id),
            key=lambda p: (p.created_at, p.id.hex),
        )
        left = sum(1 for (u, _), used in self._codes.items() if u == user_id and used is None)
        return FactorSummary(
            self._totp.get(user_id), tuple(passkeys), left, user_id in self._required
        )

    async def start_totp(self, totp: TotpRecord) -> bool:
        async with self._lock:
            held = self._totp.get(totp.user_id)
            if held is not None and held.confirmed_at is not None:
                return False
            self._totp[totp.user_id] = dataclasses.replace(totp, confirmed_at=None)
            return True

    def _replace(self, user_id: uuid.UUID, hashes: Sequence[str]) -> None:
        for key in [k for k in self._codes if k[0] == user_id]:
            del self._codes[key]
        for code_hash in hashes:
            self._codes[(user_id, code_hash)] = None

    async def confirm_totp(
        self, user_id: uuid.UUID, now: datetime, recovery_hashes: Sequence[str]
    ) -> bool:
        async with self._lock:
            held = self._totp.get(user_id)
            if held is None or held.confirmed_at is not None:
                return False
            self._totp[user_id] = dataclasses.replace(held, confirmed_at=now)
            self._replace(user_id, recovery_hashes)
            return True

    async def remove_totp(self, user_id: uuid.UUID) -> bool:
        async with self._lock:
            return self._totp.pop(user_id, None) is not None

    async def replace_recovery_codes(
        self, user_id: uuid.UUID, hashes: Sequence[str], now: datetime
    ) -> None:
        async with self._lock:
            self._replace(user_id, hashes)

    async def use_recovery_code(self, user_id: uuid.UUID, code_hash: str, now: datetime) -> bool:
        async with self._lock:
            key = (user_id, code_hash)
            if key not in self._codes or self._codes[key] is not None:
                return False
            self._codes[key] = now
            return True

    async def add_passkey(self, passkey: PasskeyRecord) -> None:
        async with self._lock:
            if any(p.credential_id == passkey.credential_id for p in self._passkeys.values()):
                raise Conflict("credential_id")
            self._passkeys[passkey.id] = passkey

    async def passkey(self, credential_id: bytes) -> PasskeyRecord | None:
        return next((p for p in self._passkeys.values() if p.credential_id == credential_id), None)

    async def passkey_used(
        self, passkey_id: uuid.UUID, seen_count: int, sign_count: int, now: datetime
    ) -> bool:
        async with self._lock:
            held = self._passkeys.get(passkey_id)
            if held is None or held.sign_count != seen_count:
                return False
            self._passkeys[passkey_id] = dataclasses.replace(
                held, sign_count=sign_count, last_used_at=now
            )
            return True

    async def remove_passkey(self, user_id: uuid.UUID, passkey_id: uuid.UUID) -> bool:
        async with self._lock:
            held = self._passkeys.get(passkey_id)
            if held is None or held.user_id != user_id:
                return False
            del self._passkeys[passkey_id]
            return True

    async def set_required(self, user_id: uuid.UUID, required: bool, now: datetime) -> None:
        async with self._lock:
            if required:
                self._required.add(user_id)
            else:
                self._required.discard(user_id)

    async def add_challenge(self, challenge: ChallengeRecord) -> None:
        async with self._lock:
            if challenge.id in self._challenges:
                raise Conflict("challenge_id")
            self._challenges[challenge.id] = challenge

    async def challenge(self, challenge_id: str, now: datetime) -> ChallengeRecord | None:
        found = self._challenges.get(challenge_id)
        return found if found is not None and found.expires_at > now else None

    async def take_challenge(self, challenge_id: str, now: datetime) -> ChallengeRecord | None:
        async with self._lock:
            found = self._challenges.get(challenge_id)
            if found is None or found.expires_at <= now:
                return None
            del self._challenges[challenge_id]
            return found

    async def purge(self, before: datetime) -> int:
        async with self._lock:
            gone = [k for k, c in self._challenges.items() if c.expires_at < before]
            for key in gone:
                del self._challenges[key]
            return len(gone)
