"""Key rotation, retirement and encryption at rest, on a real database."""

import time
import uuid
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from sqlalchemy import select

from tests.support.db import rows
from tollgate.clock import MovableClock
from tollgate.errors import InvalidRequest, InvalidToken
from tollgate.keys import rotation
from tollgate.keys.sealing import SealingError
from tollgate.services.container import Services
from tollgate.settings import Settings
from tollgate.store.schema import SigningKeyRow
from tollgate.tokens.issuing import TokenIssuer


async def access_token(services: Services) -> str:
    return await TokenIssuer(services.keyring, services.settings).access_token(
        user_id=uuid.uuid4(),
        username="minsu",
        session_id=uuid.uuid4(),
        scope="profile",
        now=int(time.time()),
    )


def kid_of(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


async def start(make_settings: Callable[..., Settings], hasher: Any, **overrides: Any) -> Services:
    services = await Services.open(
        make_settings(key_reload_interval=0.01, **overrides), hasher, migrate_first=True
    )
    await services.start()
    return services


async def test_rotation_keeps_old_tokens_verifying(
    make_settings: Callable[..., Settings], hasher: Any
) -> None:
    services = await start(make_settings, hasher)
    try:
        old = await access_token(services)
        new_key = await rotation.create_key(services.stores.keys, "ES256", None, activates_in=0)
        await services.keyring.reload()  # what the reload timer would do next
        new = await access_token(services)
        assert kid_of(new) == new_key.kid != kid_of(old)
        await services.checker.access(old)
        await services.checker.access(new)
        kids = {k["kid"] for k in (await services.keyring.jwks())["keys"]}
        id_token_kids = {k for k in kids if k.startswith(rotation.ID_TOKEN_KID_PREFIX)}
        assert len(id_token_kids) == 1
        assert kids - id_token_kids == {kid_of(old), new_key.kid}
    finally:
        await services.close()


async def test_a_reload_parses_only_keys_it_has_not_loaded(
    make_settings: Callable[..., Settings], hasher: Any
) -> None:
    """Reloads (every TOLLGATE_KEY_RELOAD_INTERVAL, in every process) keep the keys they
    already hold: parsing the RSA ID-token key again would cost ~30 ms of CPU each time."""
    services = await start(make_settings, hasher)
    try:
        keyring = services.keyring
        signer, id_token_signer = await keyring.signer(), await keyring.id_token_signer()
        await keyring.reload()
        assert await keyring.signer() is signer
        assert await keyring.id_token_signer() is id_token_signer
        new_key = await rotation.create_key(services.stores.keys, "ES256", None, activates_in=0)
        await keyring.reload()
        assert (await keyring.signer()).kid == new_key.kid  # a new key is loaded
        assert await keyring.id_token_signer() is id_token_signer
    finally:
        await services.close()


async def test_rotated_in_key_is_published_before_it_signs(
    make_settings: Callable[..., Settings], hasher: Any
) -> None:
    services = await start(make_settings, hasher)
    try:
        old = await access_token(services)
        pending = await rotation.create_key(services.stores.keys, "ES256", None, activates_in=60)
        await services.keyring.reload()  # what the reload timer would do next
        assert pending.kid in {k["kid"] for k in (await services.keyring.jwks())["keys"]}
        assert kid_of(await access_token(services)) == kid_of(old)
        # A key that never signed can be retired at once.
        await rotation.retire(services.stores.keys, pending.kid, 3600)
    finally:
        await services.close()


async def test_a_rotated_in_key_signs_once_its_time_has_come(
    make_settings: Callable[..., Settings], hasher: Any
) -> None:
    clock = MovableClock()
    services = await Services.open(
        make_settings(key_reload_interval=3600), hasher, clock=clock, migrate_first=True
    )
    await services.start()
    try:
        old = await access_token(services)
        pending = await rotation.create_key(
            services.stores.keys, "ES256", None, activates_in=60, now=clock.now()
        )
        await services.keyring.reload()
        clock.advance(59.999)
        assert kid_of(await access_token(services)) == kid_of(old)
        clock.advance(0.001)
        assert kid_of(await access_token(services)) == pending.kid
    finally:
        await services.close()


async def test_retirement_rules(make_settings: Callable[..., Settings], hasher: Any) -> None:
    services = await start(make_settings, hasher)
    try:
        old = await access_token(services)
        with pytest.raises(InvalidRequest, match="rotate first"):
            await rotation.retire(services.stores.keys, kid_of(old), 3600)
        await rotation.create_key(services.stores.keys, "ES256", None, activates_in=0)
        with pytest.raises(InvalidRequest, match="--force"):
            await rotation.retire(services.stores.keys, kid_of(old), 3600)
        await rotation.retire(services.stores.keys, kid_of(old), 3600, force=True)
        await services.keyring.reload()  # what the reload timer would do next
        with pytest.raises(InvalidToken, match="known key"):
            await services.checker.access(old)
        assert kid_of(old) not in {k["kid"] for k in (await services.keyring.jwks())["keys"]}
        # Once every token it signed has expired, no --force is needed.
        spare = await rotation.create_key(services.stores.keys, "ES256", None, activates_in=0)
        await rotation.create_key(services.stores.keys, "ES256", None, activates_in=0)
        await rotation.retire(services.stores.keys, spare.kid, 0)
    finally:
        await services.close()


async def test_keys_are_sealed_at_rest_with_a_secret(
    make_settings: Callable[..., Settings], hasher: Any
) -> None:
    services = await start(make_settings, hasher, secret_key="s3cret-from-the-vault")
    try:
        async with rows(services) as db:
            stored = (await db.scalars(select(SigningKeyRow.private_key))).all()
        assert len(stored) == 2  # the access-token key and the ID-token key
        for sealed in stored:
            assert b"PRIVATE KEY" not in sealed
            assert sealed.startswith(b"tollgate-sealed:v1:")
        await services.checker.access(await access_token(services))
    finally:
        await services.close()
    for wrong in (None, "another-secret"):
        other = await Services.open(make_settings(secret_key=wrong), hasher, migrate_first=True)
        with pytest.raises(SealingError):
            await other.start()
        await other.close()


async def test_hs256_publishes_only_the_id_token_key(
    make_settings: Callable[..., Settings], hasher: Any
) -> None:
    services = await start(make_settings, hasher, signing_alg="HS256")
    try:
        published = (await services.keyring.jwks())["keys"]
        assert [(k["kty"], k["alg"], k["kid"][:4]) for k in published] == [("RSA", "RS256", "idt-")]
        await services.checker.access(await access_token(services))
    finally:
        await services.close()


async def test_the_id_token_key_rotates_and_retires_on_its_own(
    make_settings: Callable[..., Settings], hasher: Any
) -> None:
    services = await start(make_settings, hasher)
    try:
        first = await services.keyring.id_token_signer()
        assert first.kid.startswith(rotation.ID_TOKEN_KID_PREFIX)
        assert first.alg == "RS256"
        assert first.public_jwk is not None
        assert first.public_jwk["kid"] == first.kid
        assert jwt.PyJWK(first.public_jwk).key.key_size == rotation.ID_TOKEN_RSA_BITS
        # A new access-token key neither signs ID tokens nor ends the ID-token key's turn.
        await rotation.create_key(services.stores.keys, "ES256", None)
        await services.keyring.reload()
        assert (await services.keyring.id_token_signer()).kid == first.kid
        with pytest.raises(InvalidRequest):  # still the one signing ID tokens
            await rotation.retire(services.stores.keys, first.kid, 0)
        newer = await rotation.create_key(services.stores.keys, "RS256", None, id_tokens=True)
        await services.keyring.reload()
        assert (await services.keyring.id_token_signer()).kid == newer.kid
        assert (await services.keyring.signer()).alg == "ES256"
        await rotation.retire(services.stores.keys, first.kid, 0, force=True)
        await services.keyring.reload()
        assert await services.keyring.find(first.kid) is None
    finally:
        await services.close()
