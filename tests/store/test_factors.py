"""SecondFactorStore: an authenticator app pending then confirmed, recovery codes used
once, passkeys with their counters, the operator's requirement, and single-use
challenges (mfa_tokens, WebAuthn challenges); a session remembers its `amr`."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import uuid

import pytest

from tests.store.builders import a_session, add_user, at, first_token
from tollgate.store.records import (
    ChallengeRecord,
    Conflict,
    FactorSummary,
    PasskeyRecord,
    TotpRecord,
    UserRecord,
)
from tollgate.store.stores import Stores


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def a_passkey(user: UserRecord, credential: bytes = b"cred-1", **fields: object) -> PasskeyRecord:
    return dataclasses.replace(
        PasskeyRecord(
            id=uuid.uuid4(),
            user_id=user.id,
            credential_id=credential,
            public_key=b"\xa5\x01\x02public",
            sign_count=0,
            name="Laptop",
            created_at=at(0),
            transports=("internal", "hybrid"),
        ),
        **fields,  # type: ignore[arg-type]
    )


async def test_no_factors_at_first(stores: Stores) -> None:
    user = await add_user(stores)
    summary = await stores.factors.factors(user.id)
    assert summary.totp is None
    assert summary.passkeys == ()
    assert summary.recovery_codes_left == 0
    assert not summary.required
    assert not summary.enrolled


async def test_totp_pending_then_confirmed_with_its_recovery_codes(stores: Stores) -> None:
    user = await add_user(stores)
    assert await stores.factors.start_totp(TotpRecord(user.id, b"SECRET1", at(0)))
    # A second start replaces the pending secret.
    assert await stores.factors.start_totp(TotpRecord(user.id, b"SECRET2", at(1)))
    pending = (await stores.factors.factors(user.id)).totp
    assert pending == TotpRecord(user.id, b"SECRET2", at(1), None)
    assert not (await stores.factors.factors(user.id)).enrolled

    hashes = [digest(f"code{i}") for i in range(10)]
    assert await stores.factors.confirm_totp(user.id, at(2), hashes)
    summary = await stores.factors.factors(user.id)
    assert summary.totp == TotpRecord(user.id, b"SECRET2", at(1), at(2))
    assert summary.enrolled
    assert summary.recovery_codes_left == 10
    # Confirmed: neither a new start nor a second confirmation changes it.
    assert not await stores.factors.start_totp(TotpRecord(user.id, b"OTHER", at(3)))
    assert not await stores.factors.confirm_totp(user.id, at(3), [digest("x")])
    assert (await stores.factors.factors(user.id)).totp == summary.totp
    assert (await stores.factors.factors(user.id)).recovery_codes_left == 10

    assert await stores.factors.remove_totp(user.id)
    assert not await stores.factors.remove_totp(user.id)
    assert (await stores.factors.factors(user.id)).totp is None


async def test_confirm_without_a_pending_secret_writes_nothing(stores: Stores) -> None:
    user = await add_user(stores)
    assert not await stores.factors.confirm_totp(user.id, at(0), [digest("a")])
    assert (await stores.factors.factors(user.id)).recovery_codes_left == 0


async def test_a_recovery_code_works_once_and_only_for_its_user(stores: Stores) -> None:
    user = await add_user(stores)
    other = await add_user(stores, "jiwoo")
    await stores.factors.replace_recovery_codes(user.id, [digest("a"), digest("b")], at(0))
    assert not await stores.factors.use_recovery_code(other.id, digest("a"), at(1))
    assert await stores.factors.use_recovery_code(user.id, digest("a"), at(1))
    assert not await stores.factors.use_recovery_code(user.id, digest("a"), at(2))
    assert not await stores.factors.use_recovery_code(user.id, digest("zzz"), at(2))
    assert (await stores.factors.factors(user.id)).recovery_codes_left == 1
    # Regenerating forgets the old ones, used or not.
    await stores.factors.replace_recovery_codes(user.id, [digest("c")], at(3))
    assert not await stores.factors.use_recovery_code(user.id, digest("b"), at(4))
    assert (await stores.factors.factors(user.id)).recovery_codes_left == 1


async def test_twenty_concurrent_uses_of_one_recovery_code_one_wins(stores: Stores) -> None:
    user = await add_user(stores)
    await stores.factors.replace_recovery_codes(user.id, [digest("a")], at(0))
    results = await asyncio.gather(
        *(stores.factors.use_recovery_code(user.id, digest("a"), at(1)) for _ in range(20))
    )
    assert results.count(True) == 1


async def test_passkeys_listed_found_counted_and_removed(stores: Stores) -> None:
    user = await add_user(stores)
    other = await add_user(stores, "jiwoo")
    first = a_passkey(user)
    second = a_passkey(user, b"cred-2", name="Phone", created_at=at(5), transports=())
    await stores.factors.add_passkey(first)
    await stores.factors.add_passkey(second)
    with pytest.raises(Conflict) as taken:
        await stores.factors.add_passkey(a_passkey(other))
    assert taken.value.what == "credential_id"

    assert (await stores.factors.factors(user.id)).passkeys == (first, second)
    assert await stores.factors.passkey(b"cred-2") == second
    assert await stores.factors.passkey(b"nope") is None

    assert await stores.factors.passkey_used(first.id, 0, 7, at(9))
    # Compare-and-set: a stale counter loses.
    assert not await stores.factors.passkey_used(first.id, 0, 8, at(9))
    assert await stores.factors.passkey(b"cred-1") == dataclasses.replace(
        first, sign_count=7, last_used_at=at(9)
    )
    assert not await stores.factors.remove_passkey(other.id, first.id)
    assert await stores.factors.remove_passkey(user.id, first.id)
    assert (await stores.factors.factors(user.id)).passkeys == (second,)


async def test_the_requirement_is_set_and_cleared(stores: Stores) -> None:
    user = await add_user(stores)
    await stores.factors.set_required(user.id, True, at(0))
    await stores.factors.set_required(user.id, True, at(1))
    assert (await stores.factors.factors(user.id)).required
    await stores.factors.set_required(user.id, False, at(2))
    assert not (await stores.factors.factors(user.id)).required


async def test_a_challenge_is_read_until_taken_once_and_expires(stores: Stores) -> None:
    user = await add_user(stores)
    challenge = ChallengeRecord(digest("t1"), "mfa", user.id, '{"a": 1}', at(300))
    anonymous = ChallengeRecord(digest("t2"), "webauthn_login", None, "{}", at(60))
    await stores.factors.add_challenge(challenge)
    await stores.factors.add_challenge(anonymous)
    assert await stores.factors.challenge(challenge.id, at(10)) == challenge
    assert await stores.factors.challenge(challenge.id, at(300)) is None  # expired
    assert await stores.factors.take_challenge(challenge.id, at(300)) is None
    assert await stores.factors.take_challenge(challenge.id, at(299)) == challenge
    assert await stores.factors.take_challenge(challenge.id, at(299)) is None
    assert await stores.factors.challenge(challenge.id, at(10)) is None
    assert await stores.factors.purge(at(61)) == 1
    assert await stores.factors.take_challenge(anonymous.id, at(1)) is None


async def test_twenty_concurrent_takes_of_one_challenge_one_wins(stores: Stores) -> None:
    user = await add_user(stores)
    challenge = ChallengeRecord(digest("t1"), "mfa", user.id, "{}", at(300))
    await stores.factors.add_challenge(challenge)
    results = await asyncio.gather(
        *(stores.factors.take_challenge(challenge.id, at(1)) for _ in range(20))
    )
    assert [r for r in results if r is not None] == [challenge]


async def test_twenty_concurrent_uses_of_one_totp_step_one_wins(stores: Stores) -> None:
    """The used-code memory of TOTP is the replay store (one key per user and step)."""
    key = digest("totp:user:123456")
    results = await asyncio.gather(
        *(stores.proofs.first_use(key, at(90), at(0)) for _ in range(20))
    )
    assert results.count(True) == 1


async def test_a_session_remembers_how_it_was_authenticated(stores: Stores) -> None:
    user = await add_user(stores)
    session = dataclasses.replace(a_session(user), amr="pwd otp")
    await stores.sessions.start(session, first_token(session))
    live = await stores.sessions.live(session.id, at(1))
    assert live is not None
    assert live.amr == "pwd otp"


async def test_deleting_a_user_takes_their_factors(stores: Stores, engine: str) -> None:
    user = await add_user(stores)
    await stores.factors.start_totp(TotpRecord(user.id, b"S", at(0)))
    await stores.factors.confirm_totp(user.id, at(1), [digest("a")])
    await stores.factors.add_passkey(a_passkey(user))
    await stores.factors.add_challenge(ChallengeRecord(digest("t"), "mfa", user.id, "{}", at(300)))
    await stores.factors.set_required(user.id, True, at(1))
    assert await stores.users.delete(user.id)
    if engine == "reference":
        return  # the reference keeps factors apart from users; the databases cascade
    assert await stores.factors.factors(user.id) == FactorSummary(None, (), 0, False)
    assert await stores.factors.passkey(b"cred-1") is None
    assert await stores.factors.challenge(digest("t"), at(1)) is None
