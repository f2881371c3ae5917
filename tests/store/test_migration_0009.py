"""Migration 0009 (second factors): the factor tables and `sessions.amr` come and go, on
both engines, and a confirmed authenticator app survives reopening the stores."""

from __future__ import annotations

import dataclasses

from tests.store.builders import a_session, add_user, at, first_token
from tests.store.engines import open_stores
from tests.store.test_migration_0005 import migrate_to
from tests.store.test_migration_0007 import tables
from tollgate.store.records import TotpRecord

FACTOR_TABLES = {"mfa_totp", "mfa_recovery_codes", "mfa_passkeys", "mfa_required", "mfa_challenges"}


async def test_upgrade_stores_factors_and_downgrade_drops_them(empty_url: tuple[str, str]) -> None:
    engine, url = empty_url
    await migrate_to(url, "0008")
    assert not FACTOR_TABLES & set(await tables(url))
    await migrate_to(url, "head")

    stores = await open_stores(engine, url)
    try:
        user = await add_user(stores)
        await stores.factors.start_totp(TotpRecord(user.id, b"sealed", at(0)))
        await stores.factors.confirm_totp(user.id, at(1), ["0" * 64])
        session = dataclasses.replace(a_session(user), amr="pwd otp")
        await stores.sessions.start(session, first_token(session))
    finally:
        await stores.close()
    reopened = await open_stores(engine, url)
    try:
        summary = await reopened.factors.factors(user.id)
        assert summary.totp == TotpRecord(user.id, b"sealed", at(0), at(1))
        assert summary.recovery_codes_left == 1
        live = await reopened.sessions.live(session.id, at(2))
        assert live is not None
        assert live.amr == "pwd otp"
    finally:
        await reopened.close()

    await migrate_to(url, "0008", direction="downgrade")
    remaining = set(await tables(url))
    assert not FACTOR_TABLES & remaining
    assert "sessions" in remaining
