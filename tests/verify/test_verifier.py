"""tollgate.verify against the real Tollgate app (in-process HTTP), keys and all."""

import subprocess
import sys
import time
import types
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import jwt
import pytest
from fastapi import FastAPI

import tollgate.verify
from tests.conftest import ISSUER, join
from tests.verify.conftest import CountingTransport
from tollgate.clock import MovableClock
from tollgate.keys import rotation
from tollgate.services.container import Services
from tollgate.verify import InsufficientScope, InvalidToken, KeysUnavailable, Verifier


async def test_verifies_a_real_token(
    client: httpx.AsyncClient, make_verifier: Callable[..., Verifier]
) -> None:
    tokens = await join(client, "Minsu")
    claims = await make_verifier().verify_async(tokens["access_token"], ["profile"])
    assert claims.sub == tokens["user"]["id"]
    assert claims.username == "Minsu"
    assert claims.scopes == {"profile"}
    uuid.UUID(str(claims.sid))


async def test_discovers_jwks_through_metadata_and_caches(
    client: httpx.AsyncClient, make_verifier: Callable[..., Verifier], transport: CountingTransport
) -> None:
    tokens = await join(client)
    verifier = make_verifier()
    for _ in range(5):
        await verifier.verify_async(tokens["access_token"])
    assert transport.paths == ["/.well-known/oauth-authorization-server", "/.well-known/jwks.json"]


async def test_honours_max_age(
    client: httpx.AsyncClient,
    make_verifier: Callable[..., Verifier],
    transport: CountingTransport,
    app: FastAPI,
) -> None:
    tokens = await join(client)
    verifier = make_verifier()
    await verifier.verify_async(tokens["access_token"])
    verifier._keys.fresh_until = time.monotonic() - 1  # as if max-age had passed
    again = await client.post("/refresh", json={"refresh_token": tokens["refresh_token"]})
    await verifier.verify_async(again.json()["access_token"])
    assert transport.paths.count("/.well-known/jwks.json") == 2
    assert (
        verifier._keys.fresh_until - time.monotonic() > app.state.services.settings.jwks_max_age - 5
    )


async def test_unknown_kid_refetches_at_most_once_per_interval(
    client: httpx.AsyncClient,
    make_verifier: Callable[..., Verifier],
    transport: CountingTransport,
    app: FastAPI,
) -> None:
    tokens = await join(client)
    verifier = make_verifier(refetch_interval=3600)
    await verifier.verify_async(tokens["access_token"])
    header = jwt.get_unverified_header(tokens["access_token"])
    forged = jwt.encode(
        {"sub": "x"},
        "k" * 32,
        algorithm="HS256",
        headers={**header, "kid": "made-up", "alg": "HS256"},
    )
    for _ in range(5):
        with pytest.raises(InvalidToken):
            await verifier.verify_async(forged)
    assert transport.paths.count("/.well-known/jwks.json") == 1


async def test_a_rotated_in_key_is_fetched_on_its_first_token(
    client: httpx.AsyncClient, make_verifier: Callable[..., Verifier], app: FastAPI
) -> None:
    services: Services = app.state.services
    tokens = await join(client)
    verifier = make_verifier(refetch_interval=0)
    await verifier.verify_async(tokens["access_token"])
    new = await rotation.create_key(services.stores.keys, "ES256", None)
    await services.keyring.reload()
    fresh = (await client.post("/refresh", json={"refresh_token": tokens["refresh_token"]})).json()
    assert jwt.get_unverified_header(fresh["access_token"])["kid"] == new.kid
    await verifier.verify_async(fresh["access_token"])
    await verifier.verify_async(tokens["access_token"])  # the old key still verifies


async def test_refusals(client: httpx.AsyncClient, make_verifier: Callable[..., Verifier]) -> None:
    tokens = await join(client)
    verifier = make_verifier()
    with pytest.raises(InsufficientScope) as info:
        await verifier.verify_async(tokens["access_token"], ["admin"])
    assert info.value.status == 403
    assert 'scope="admin"' in info.value.www_authenticate()
    with pytest.raises(InvalidToken, match="not an access token"):
        await verifier.verify_async(tokens["refresh_token"])
    for token in ("", "a.b.c", "x" * 9000):
        with pytest.raises(InvalidToken):
            await verifier.verify_async(token)
    other_audience = Verifier(ISSUER, "someone-else", async_transport=verifier._async_transport)
    with pytest.raises(InvalidToken):
        await other_audience.verify_async(tokens["access_token"])


async def test_issuer_must_match(client: httpx.AsyncClient, transport: CountingTransport) -> None:
    tokens = await join(client)
    # The metadata names another issuer: refuse to trust its keys.
    verifier = Verifier(ISSUER + "/", "tollgate", async_transport=transport)
    with pytest.raises(KeysUnavailable):
        await verifier.verify_async(tokens["access_token"])


async def signed_by_tollgate(app: FastAPI, *, iat: int, exp: int) -> str:
    """An access token signed with the running server's own key, with chosen times."""
    key = await app.state.services.keyring.signer()
    return jwt.encode(
        {"iss": ISSUER, "aud": "tollgate", "sub": "u", "iat": iat, "exp": exp},
        key.signing_key,
        algorithm=key.alg,
        headers={"kid": key.kid, "typ": "at+jwt"},
    )


async def test_expired_tokens_are_refused(
    client: httpx.AsyncClient, make_verifier: Callable[..., Verifier], app: FastAPI
) -> None:
    now = int(time.time())
    expired = await signed_by_tollgate(app, iat=now - 100, exp=now - 50)
    with pytest.raises(InvalidToken, match="expired"):
        await make_verifier(leeway=5).verify_async(expired)


async def test_unreachable_issuer(client: httpx.AsyncClient) -> None:
    tokens = await join(client)
    verifier = Verifier("http://127.0.0.1:9", "tollgate", timeout=0.5)
    with pytest.raises(KeysUnavailable) as info:
        await verifier.verify_async(tokens["access_token"])
    assert info.value.status == 503


def test_public_api_is_exactly_all() -> None:
    public = {
        name
        for name, value in vars(tollgate.verify).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == set(tollgate.verify.__all__)
    for name in tollgate.verify.__all__:
        assert getattr(tollgate.verify, name).__module__.startswith("tollgate.verify.")


@pytest.mark.parametrize("module", ["tollgate.verify", "tollgate.client"])
def test_imports_nothing_of_the_server(module: str) -> None:
    probe = (
        f"import sys, {module}\n"
        "server = ('fastapi', 'starlette', 'sqlalchemy', 'alembic', 'argon2', 'uvicorn',"
        " 'pydantic', 'typer', 'zxcvbn')\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in server"
        f" or (m.startswith('tollgate.') and not m.startswith('{module}')))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


async def test_verified_tokens_are_cached(
    client: httpx.AsyncClient, make_verifier: Callable[..., Verifier]
) -> None:
    tokens = await join(client)
    verifier = make_verifier()
    first = await verifier.verify_async(tokens["access_token"])
    assert verifier.verify(tokens["access_token"]) is first  # the cached Claims, no parsing
    with pytest.raises(InsufficientScope):
        await verifier.verify_async(tokens["access_token"], ["admin"])  # scopes still checked
    small = make_verifier(cache_size=1)
    other = (
        await client.post(
            "/login", json={"username": "minsu", "password": "violet-harbor-kettle-42"}
        )
    ).json()
    await small.verify_async(tokens["access_token"])
    await small.verify_async(other["access_token"])
    assert len(small._verified) == 1


async def test_cache_ends_with_the_token_and_with_a_key_refetch(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    services: Services = app.state.services
    key = await services.keyring.signer()
    now = int(time.time())
    short = await signed_by_tollgate(app, iat=now, exp=now + 2)

    class OneSecondJwks(httpx.AsyncBaseTransport):
        """The real app, but its JWKS may be cached for one second only."""

        def __init__(self) -> None:
            self.inner = httpx.ASGITransport(app=app)

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            response = await self.inner.handle_async_request(request)
            if request.url.path.endswith("jwks.json"):
                response.headers["cache-control"] = "public, max-age=1"
            return response

    # Both of the verifier's clocks start at the token's iat and move only when told.
    clock = MovableClock(datetime.fromtimestamp(now, UTC))
    verifier = Verifier(
        ISSUER,
        "tollgate",
        leeway=0,
        async_transport=OneSecondJwks(),
        clock=clock.timestamp,
        monotonic=clock.timestamp,
    )
    await verifier.verify_async(short)
    clock.advance(1.999)
    await verifier.verify_async(short)  # answered from the cache, still before exp
    clock.advance(0.001)  # at exp: refused, cached or not
    with pytest.raises(InvalidToken, match="expired"):
        await verifier.verify_async(short)
    tokens = await join(client)
    await verifier.verify_async(tokens["access_token"])
    # The key is retired: after the next key refetch the cached verdict is gone too.
    await rotation.create_key(services.stores.keys, "ES256", None)
    assert await services.stores.keys.retire(key.kid, datetime.now(UTC))
    await services.keyring.reload()
    await verifier.verify_async(tokens["access_token"])  # a cached verdict, keys still fresh
    clock.advance(1)  # the JWKS max-age passes: keys and cached verdicts are stale
    with pytest.raises(InvalidToken, match="known key"):
        await verifier.verify_async(tokens["access_token"])
