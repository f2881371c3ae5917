"""Unknown user and wrong password are indistinguishable: answer and cost (40 tries each).

Cost is the server's CPU time per answer (tests/support/timing.py says why not wall
time), as the median of 40 tries of each kind, interleaved so that any drift in the
machine's speed hits both alike.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import PASSWORD, join
from tests.support.timing import cpu_time, median_ratio
from tollgate.app import create_app
from tollgate.services.passwords import PasswordHasher
from tollgate.settings import Settings

TRIES = 40
VOLATILE = {"date", "content-length", "x-request-id"}  # x-request-id: random per request


@pytest.fixture
async def unthrottled(
    make_settings: Callable[..., Settings], hasher: PasswordHasher
) -> AsyncIterator[httpx.AsyncClient]:
    # 60 failures from one address would be throttled otherwise; timing is what is measured.
    app: FastAPI = create_app(make_settings(rate_limit_enabled=False), hasher)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            yield http


def same_answer(a: httpx.Response, b: httpx.Response) -> None:
    assert a.status_code == b.status_code
    assert a.content == b.content
    assert {k: v for k, v in a.headers.items() if k not in VOLATILE} == {
        k: v for k, v in b.headers.items() if k not in VOLATILE
    }


@pytest.mark.parametrize("route", ["/login", "/auth"])
async def test_unknown_user_and_wrong_password(unthrottled: httpx.AsyncClient, route: str) -> None:
    await join(unthrottled, "minsu")

    def attempt(name: str) -> Callable[[], Awaitable[httpx.Response]]:
        if route == "/login":
            return lambda: unthrottled.post(route, json={"username": name, "password": "wrong-1"})
        return lambda: unthrottled.post(
            route, data={"grant_type": "password", "username": name, "password": "wrong-1"}
        )

    known: list[float] = []
    unknown: list[float] = []
    for _ in range(TRIES):  # interleaved, so load changes hit both alike
        t_known, r_known = await cpu_time(attempt("minsu"))
        t_unknown, r_unknown = await cpu_time(attempt("nobody"))
        same_answer(r_known, r_unknown)
        known.append(t_known)
        unknown.append(t_unknown)
    # Without the dummy hash an unknown name would cost ~1 % of a wrong password.
    ratio = median_ratio(unknown, known)
    assert 0.9 <= ratio <= 1.1, f"unknown/known median CPU time ratio {ratio:.3f}"


async def test_join_with_a_taken_name_is_no_faster_oracle(unthrottled: httpx.AsyncClient) -> None:
    await join(unthrottled, "minsu")
    taken: list[float] = []
    failed_login: list[float] = []
    for i in range(TRIES):
        t_taken, r_taken = await cpu_time(
            lambda: unthrottled.post("/join", json={"username": "MINSU", "password": PASSWORD})
        )
        assert r_taken.status_code == 409
        probe = {"username": f"nobody{i}", "password": "wrong-1"}
        t_login, _ = await cpu_time(lambda probe=probe: unthrottled.post("/login", json=probe))
        taken.append(t_taken)
        failed_login.append(t_login)
    # A taken name costs a full password hash, like a login probe: no cheaper oracle.
    ratio = median_ratio(taken, failed_login)
    assert ratio >= 0.9, f"taken-name join is {ratio:.2f}x the time of a failed login"
