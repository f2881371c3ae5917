"""A change of TOLLGATE_SIGNING_ALG at restart goes through rotation, never at once.

Seen by a new user: a database whose key was EdDSA, restarted without the setting, got a
new ES256 key that signed at once and logged nothing.
"""

import logging
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import jwt
import pytest
from sqlalchemy import update

from tests.support.db import rows
from tollgate.clock import utcnow
from tollgate.keys import rotation
from tollgate.services.container import Services
from tollgate.settings import Settings
from tollgate.store.records import AuditQuery
from tollgate.store.schema import SigningKeyRow
from tollgate.tokens.issuing import TokenIssuer


async def start(make_settings: Callable[..., Settings], hasher: Any, **overrides: Any) -> Services:
    services = await Services.open(
        make_settings(key_reload_interval=0.01, **overrides), hasher, migrate_first=True
    )
    await services.start()
    return services


async def access_token(services: Services) -> str:
    return await TokenIssuer(services.keyring, services.settings).access_token(
        user_id=uuid.uuid4(), username="minsu", session_id=uuid.uuid4(), scope="", now=utcnow_s()
    )


def utcnow_s() -> int:
    return int(utcnow().timestamp())


async def signing_alg(services: Services) -> str:
    return str(jwt.get_unverified_header(await access_token(services))["alg"])


async def test_a_new_database_gets_es256_when_nothing_is_set(
    make_settings: Callable[..., Settings], hasher: Any
) -> None:
    services = await start(make_settings, hasher)
    try:
        assert await signing_alg(services) == "ES256"
    finally:
        await services.close()


async def test_restart_without_the_setting_keeps_the_databases_algorithm(
    make_settings: Callable[..., Settings], hasher: Any, caplog: pytest.LogCaptureFixture
) -> None:
    first = await start(make_settings, hasher, signing_alg="EdDSA")
    await first.close()
    caplog.set_level(logging.WARNING, logger="tollgate.keys")
    again = await start(make_settings, hasher)
    try:
        assert await signing_alg(again) == "EdDSA"
        kept = await rotation.all_keys(again.stores.keys)
        assert [k.alg for k in kept if not rotation.signs_id_tokens(k)] == ["EdDSA"]
        assert caplog.records == []
    finally:
        await again.close()


async def test_a_new_algorithm_is_published_first_and_signs_after_the_jwks_lifetime(
    make_settings: Callable[..., Settings], hasher: Any, caplog: pytest.LogCaptureFixture
) -> None:
    first = await start(make_settings, hasher, signing_alg="EdDSA")
    old_kid = (await first.keyring.signer()).kid
    await first.close()
    caplog.set_level(logging.WARNING, logger="tollgate.keys")
    changed = await start(make_settings, hasher, signing_alg="ES256", jwks_max_age=300)
    try:
        # Still EdDSA: the new key is only published.
        eddsa_token = await access_token(changed)
        assert await signing_alg(changed) == "EdDSA"
        keys = await rotation.all_keys(changed.stores.keys)
        new = next(k for k in keys if k.alg == "ES256")
        waited = new.activates_at - new.created_at
        assert timedelta(seconds=299) <= waited <= timedelta(seconds=301)
        published = {k["kid"] for k in (await changed.keyring.jwks())["keys"]}
        id_token_kid = (await changed.keyring.id_token_signer()).kid
        assert published == {old_kid, new.kid, id_token_kid}
        assert any("from EdDSA to ES256" in r.getMessage() for r in caplog.records)
        events = await changed.audit.events(AuditQuery(limit=5))
        assert any(e.event == "key_rotated" and new.kid in (e.detail or "") for e in events)
        # Once its time has come, the new key signs; the old one still verifies.
        async with rows(changed) as db:
            await db.execute(
                update(SigningKeyRow)
                .where(SigningKeyRow.kid == new.kid)
                .values(activates_at=utcnow())
            )
        await changed.keyring.reload()
        assert await signing_alg(changed) == "ES256"
        await changed.checker.access(eddsa_token)
    finally:
        await changed.close()


async def test_restarting_again_during_the_wait_makes_no_second_key(
    make_settings: Callable[..., Settings], hasher: Any
) -> None:
    first = await start(make_settings, hasher, signing_alg="RS256")
    await first.close()
    for _ in range(2):
        restarted = await start(make_settings, hasher, signing_alg="EdDSA")
        await restarted.close()
    check = await start(make_settings, hasher)
    try:
        keys = await rotation.all_keys(check.stores.keys)
        algs = sorted(k.alg for k in keys if not rotation.signs_id_tokens(k))
        assert algs == ["EdDSA", "RS256"]
        assert await signing_alg(check) == "RS256"
    finally:
        await check.close()
