"""Unknown user and wrong password are indistinguishable: answer and time (30 tries each)."""

from __future__ import annotations

import statistics
import time
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import PASSWORD, join
from tollgate.app import create_app
from tollgate.services.passwords import PasswordHasher
from tollgate.settings import Settings

TRIES = 30
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


async def timed(send: Callable[[], object]) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    response = await send()  # type: ignore[misc]
    return time.perf_counter() - started, response


def same_answer(a: httpx.Response, b: httpx.Response) -> None:
    assert a.status_code == b.status_code
    assert a.content == b.content
    assert {k: v for k, v in a.headers.items() if k not in VOLATILE} == {
        k: v for k, v in b.headers.items() if k not in VOLATILE
    }


@pytest.mark.parametrize("route", ["/login", "/auth"])
async def test_unknown_user_and_wrong_password(unthrottled: httpx.AsyncClient, route: str) -> None:
    await join(unthrottled, "minsu")

    def attempt(name: str) -> Callable[[], object]:
        if route == "/login":
            return lambda: unthrottled.post(route, json={"username": name, "password": "wrong-1"})
        return lambda: unthrottled.post(
            route, data={"grant_type": "password", "username": name, "password": "wrong-1"}
        )

    known: list[float] = []
    unknown: list[float] = []
    for _ in range(TRIES):  # interleaved, so load changes hit both alike
        t_known, r_known = await timed(attempt("minsu"))
        t_unknown, r_unknown = await timed(attempt("nobody"))
        same_answer(r_known, r_unknown)
        known.append(t_known)
        unknown.append(t_unknown)
    ratio = statistics.median(unknown) / statistics.median(known)
    assert 0.9 <= ratio <= 1.1, f"unknown/known median time ratio {ratio:.3f}"


async def test_join_with_a_taken_name_is_no_faster_oracle(unthrottled: httpx.AsyncClient) -> None:
    await join(unthrottled, "minsu")
    taken: list[float] = []
    failed_login: list[float] = []
    for i in range(TRIES):
        t_taken, r_taken = await timed(
            lambda: unthrottled.post("/join", json={"username": "MINSU", "password": PASSWORD})
        )
        assert r_taken.status_code == 409
        probe = {"username": f"nobody{i}", "password": "wrong-1"}
        t_login, _ = await timed(lambda probe=probe: unthrottled.post("/login", json=probe))
        taken.append(t_taken)
        failed_login.append(t_login)
    # A taken name costs a full password hash, like a login probe: no cheaper oracle.
    ratio = statistics.median(taken) / statistics.median(failed_login)
    assert ratio >= 0.9, f"taken-name join is {ratio:.2f}x the time of a failed login"
