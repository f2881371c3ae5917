"""The server and tollgate.verify agree on time: `exp` strict, leeway on `nbf`/`iat` only.

One token, one moved clock, both checkers asked at each instant (issue: the library used
to accept a token 5 s past `exp` while the server's /me refused it).
"""

import uuid
from collections.abc import Callable

import pytest
from fastapi import FastAPI

from tollgate.errors import InvalidToken as ServerInvalidToken
from tollgate.services.container import Services
from tollgate.tokens.checking import TokenChecker
from tollgate.tokens.issuing import TokenIssuer
from tollgate.verify import InvalidToken, Verifier

ISSUED_AT = 1_900_000_000


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def access_token(services: Services, now: int) -> str:
    return await TokenIssuer(services.keyring, services.settings).access_token(
        user_id=uuid.uuid4(), username="minsu", session_id=uuid.uuid4(), scope="profile", now=now
    )


async def accepted_by_both(services: Services, verifier: Verifier, token: str) -> tuple[bool, bool]:
    server = TokenChecker(services.keyring, services.settings, verifier._clock)
    try:
        await server.access(token)
        server_ok = True
    except ServerInvalidToken:
        server_ok = False
    try:
        await verifier.verify_async(token)
        library_ok = True
    except InvalidToken:
        library_ok = False
    return server_ok, library_ok


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [(-1, True), (0, False), (1, False), (5, False)],
    ids=["exp-1", "exp", "exp+1", "exp+5"],
)
async def test_exp_is_strict_on_both_sides(
    app: FastAPI, make_verifier: Callable[..., Verifier], offset: int, accepted: bool
) -> None:
    services: Services = app.state.services
    token = await access_token(services, ISSUED_AT)
    expires = ISSUED_AT + services.settings.access_ttl
    clock = Clock(expires + offset)
    verifier = make_verifier(clock=clock)
    assert await accepted_by_both(services, verifier, token) == (accepted, accepted)


async def test_a_cached_token_expires_on_the_clock(
    app: FastAPI, make_verifier: Callable[..., Verifier]
) -> None:
    services: Services = app.state.services
    token = await access_token(services, ISSUED_AT)
    clock = Clock(ISSUED_AT + 1)
    verifier = make_verifier(clock=clock)
    await verifier.verify_async(token)  # now cached
    clock.now = ISSUED_AT + services.settings.access_ttl
    with pytest.raises(InvalidToken, match="expired"):
        await verifier.verify_async(token)


@pytest.mark.parametrize(
    ("skew", "accepted"), [(4, True), (5, True), (6, False)], ids=["4s", "5s", "6s"]
)
async def test_leeway_applies_to_iat_and_nbf_on_both_sides(
    app: FastAPI, make_verifier: Callable[..., Verifier], skew: int, accepted: bool
) -> None:
    # A token from a replica whose clock runs `skew` seconds ahead of ours.
    services: Services = app.state.services
    token = await access_token(services, ISSUED_AT + skew)
    verifier = make_verifier(clock=Clock(ISSUED_AT))
    assert services.settings.clock_leeway == 5
    assert verifier.leeway == 5
    assert await accepted_by_both(services, verifier, token) == (accepted, accepted)
