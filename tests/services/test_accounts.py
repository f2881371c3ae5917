"""Accounts: sign-up races, rehash on login, and equal cost for every login failure."""

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.conftest import PASSWORD
from tests.support.db import rows
from tests.support.timing import cpu_time, median_ratio
from tollgate.errors import AccountDisabled, InvalidClient, InvalidGrant, UsernameTaken
from tollgate.services.container import Services
from tollgate.services.grants import ClientInfo
from tollgate.services.passwords import PasswordHasher
from tollgate.settings import Settings
from tollgate.store.records import UserRecord
from tollgate.store.schema import UserRow


async def stored_hash(services: Services) -> str:
    async with rows(services) as db:
        return (await db.scalars(select(UserRow.password_hash))).one()


async def test_old_parameters_are_upgraded_at_login(
    make_settings: Callable[..., Settings], services: Services
) -> None:
    weak = await Services.open(
        make_settings(), PasswordHasher(time_cost=1, memory_kib=8192), migrate_first=True
    )
    await weak.start()
    await weak.accounts.join("minsu", PASSWORD)
    await weak.close()
    assert "m=8192,t=1" in await stored_hash(services)
    await services.accounts.authenticate("minsu", PASSWORD)
    upgraded = await stored_hash(services)
    assert upgraded.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    await services.accounts.authenticate("minsu", PASSWORD)


async def test_concurrent_signups_in_different_case_make_one_account(services: Services) -> None:
    names = ["minsu", "Minsu", "MINSU", "mInSu", "MinSu"] * 4
    results = await asyncio.gather(
        *(services.accounts.join(n, PASSWORD) for n in names), return_exceptions=True
    )
    created = [r for r in results if isinstance(r, UserRecord)]
    assert len(created) == 1
    assert all(isinstance(r, UsernameTaken) for r in results if not isinstance(r, UserRecord))
    async with rows(services) as db:
        assert await db.scalar(select(func.count()).select_from(UserRow)) == 1


async def test_concurrent_signups_of_look_alikes_make_one_account(services: Services) -> None:
    # Latin, Cyrillic а, İ (lower-cased with a hidden dot), dotless ı, fullwidth.
    names = ["alice", "\u0430lice", "AL\u0130CE", "al\u0131ce", "ＡＬＩＣＥ"] * 4
    results = await asyncio.gather(
        *(services.accounts.join(n, PASSWORD) for n in names), return_exceptions=True
    )
    created = [r for r in results if isinstance(r, UserRecord)]
    assert len(created) == 1
    assert all(isinstance(r, UsernameTaken) for r in results if not isinstance(r, UserRecord))
    async with rows(services) as db:
        stored = (await db.execute(select(UserRow.username_key, UserRow.username_skeleton))).all()
    assert len(stored) == 1
    assert stored[0].username_skeleton == "alice"


async def test_the_skeleton_is_stored_and_refuses_look_alikes(services: Services) -> None:
    user = await services.accounts.join("Ａlice", PASSWORD)  # fullwidth A: display "Alice"
    assert (user.username, user.username_key, user.username_skeleton) == ("Alice", "alice", "alice")
    with pytest.raises(UsernameTaken):
        await services.accounts.join("\u0430lice", PASSWORD)
    other = await services.accounts.join("alicia", PASSWORD)
    assert other.username_skeleton == "alicia"


async def test_disabled_is_told_only_to_the_password_holder(services: Services) -> None:
    await services.accounts.join("minsu", PASSWORD)
    await services.accounts.set_disabled("minsu", True)
    with pytest.raises(AccountDisabled):
        await services.accounts.authenticate("minsu", PASSWORD)
    with pytest.raises(InvalidGrant):
        await services.accounts.authenticate("minsu", "wrong-wrong-wrong")


async def test_unknown_user_costs_as_much_as_a_wrong_password(services: Services) -> None:
    await services.accounts.join("minsu", PASSWORD)

    async def attempt(username: str) -> float:
        async def authenticate() -> None:
            with pytest.raises(InvalidGrant) as info:
                await services.accounts.authenticate(username, "wrong-wrong-wrong")
            assert info.value.description == "The username or password is incorrect."

        spent, _ = await cpu_time(authenticate)
        return spent

    known: list[float] = []
    unknown: list[float] = []
    for _ in range(40):  # interleaved, so drift in machine load hits both alike
        known.append(await attempt("minsu"))
        unknown.append(await attempt("nobody"))
    # CPU time, not wall time (tests/support/timing.py). Without the dummy hash the
    # unknown user would cost ~100x less.
    ratio = median_ratio(unknown, known)
    assert 0.8 < ratio < 1.25, ratio


@pytest.mark.parametrize("email", [None, "minsu@example.org"])
async def test_join_stores_email_and_default_scope(services: Services, email: Any) -> None:
    user = await services.accounts.join("minsu", PASSWORD, email)
    assert user.email == email
    assert user.scope == "profile"


async def test_nul_characters_never_reach_the_database(services: Services) -> None:
    # PostgreSQL text cannot hold U+0000; such names simply do not exist.
    await services.accounts.join("minsu", PASSWORD)
    with pytest.raises(InvalidGrant):
        await services.accounts.authenticate("min\x00su", PASSWORD)
    with pytest.raises(InvalidGrant):
        await services.login.with_password("min\x00su", PASSWORD, None, ClientInfo(ip="::1"))
    with pytest.raises(InvalidClient):
        await services.clients.authenticate("tgc_\x00", "secret")
