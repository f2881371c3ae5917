"""SecondFactors on SQLite and PostgreSQL (issue 18): the secret sealed at rest, a code
used once across two workers of one database, twenty concurrent uses of one code or one
mfa_token, and a login that never starts a session before the second step."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pyotp
import pytest

from tests.conftest import PASSWORD
from tollgate.clock import MovableClock
from tollgate.errors import InvalidGrant, MfaRequired
from tollgate.events import ClientInfo
from tollgate.keys.sealing import is_sealed
from tollgate.services.container import Services
from tollgate.services.passwords import PasswordHasher
from tollgate.settings import Settings

CLIENT = ClientInfo(user_agent="test", ip="203.0.113.9")


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def worker_settings(make_settings: Callable[..., Settings]) -> Settings:
    # Two workers: the used codes live in the database, as for replicas.
    return make_settings(web_concurrency=2, secret_key="s3cret-for-tests-" * 2)


async def open_worker(settings: Settings, hasher: PasswordHasher, clock: MovableClock) -> Services:
    built = await Services.open(settings, hasher, clock=clock, migrate_first=True)
    await built.start()
    return built


@pytest.fixture
async def workers(
    worker_settings: Settings, hasher: PasswordHasher, clock: MovableClock
) -> AsyncIterator[tuple[Services, Services]]:
    first = await open_worker(worker_settings, hasher, clock)
    second = await open_worker(worker_settings, hasher, clock)
    yield first, second
    await second.close()
    await first.close()


async def enrolled(services: Services, clock: MovableClock) -> pyotp.TOTP:
    user = await services.accounts.join("minsu", PASSWORD)
    started = await services.factors.start_totp(user.id, PASSWORD)
    totp = pyotp.TOTP(started.secret)
    await services.factors.confirm_totp(user.id, totp.at(clock.now()), CLIENT)
    clock.advance(60)
    return totp


async def mfa_token(services: Services) -> str:
    with pytest.raises(MfaRequired) as asked:
        await services.login.with_password("minsu", PASSWORD, None, CLIENT)
    return asked.value.mfa_token


async def test_the_secret_is_sealed_at_rest(
    workers: tuple[Services, Services], clock: MovableClock
) -> None:
    services, _ = workers
    user = await services.accounts.join("minsu", PASSWORD)
    started = await services.factors.start_totp(user.id, PASSWORD)
    stored = (await services.stores.factors.factors(user.id)).totp
    assert stored is not None
    assert is_sealed(stored.secret)
    assert started.secret.encode() not in stored.secret


async def test_a_code_used_on_one_worker_is_refused_on_the_other(
    workers: tuple[Services, Services], clock: MovableClock
) -> None:
    first, second = workers
    totp = await enrolled(first, clock)
    code = totp.at(clock.now())
    pair = await first.factors.with_code(await mfa_token(first), code, None, CLIENT)
    assert pair.access_token
    with pytest.raises(InvalidGrant):
        await second.factors.with_code(await mfa_token(second), code, None, CLIENT)


async def test_twenty_concurrent_uses_of_one_code_one_wins(
    workers: tuple[Services, Services], clock: MovableClock
) -> None:
    services, other = workers
    totp = await enrolled(services, clock)
    code = totp.at(clock.now())
    tokens = [await mfa_token(services if i % 2 else other) for i in range(20)]
    results = await asyncio.gather(
        *(
            (services if i % 2 else other).factors.with_code(token, code, None, CLIENT)
            for i, token in enumerate(tokens)
        ),
        return_exceptions=True,
    )
    assert sum(1 for r in results if not isinstance(r, BaseException)) == 1
    assert all(isinstance(r, InvalidGrant) for r in results if isinstance(r, BaseException))


async def test_twenty_concurrent_uses_of_one_mfa_token_one_wins(
    workers: tuple[Services, Services], clock: MovableClock
) -> None:
    services, _ = workers
    await enrolled(services, clock)
    user = await services.accounts.find("minsu")
    codes = await services.factors.regenerate_recovery_codes(user.id, PASSWORD, CLIENT)
    token = await mfa_token(services)
    # Ten different recovery codes, twice each: only one login comes of one token.
    results = await asyncio.gather(
        *(services.factors.with_code(token, None, codes[i % 10], CLIENT) for i in range(20)),
        return_exceptions=True,
    )
    assert sum(1 for r in results if not isinstance(r, BaseException)) == 1


async def test_no_session_starts_before_the_second_step(
    workers: tuple[Services, Services], clock: MovableClock
) -> None:
    services, _ = workers
    await enrolled(services, clock)
    user = await services.accounts.find("minsu")
    before = await services.stores.sessions.live_for_user(user.id, clock.now())
    await mfa_token(services)
    after = await services.stores.sessions.live_for_user(user.id, clock.now())
    assert len(after) == len(before)
