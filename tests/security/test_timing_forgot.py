"""POST /password/forgot tells nothing about the account: the same status, body and
headers, and the same server CPU time (median of 40 tries each, interleaved; see
tests/support/timing.py for why CPU and not wall time) for a known account with an
address as for an unknown name or address."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from fastapi import FastAPI

from tests.security.test_timing import same_answer
from tests.support.smtp import SmtpSink
from tests.support.timing import cpu_time, median_ratio
from tollgate.app import create_app
from tollgate.services.passwords import PasswordHasher
from tollgate.settings import Settings

TRIES = 40


@pytest.fixture
async def unthrottled(
    make_settings: Callable[..., Settings], hasher: PasswordHasher, smtp: SmtpSink
) -> AsyncIterator[httpx.AsyncClient]:
    # The sender is slowed right down: what is measured is the request, not the sending.
    settings = make_settings(rate_limit_enabled=False, smtp_url=smtp.url, mail_interval=60)
    app: FastAPI = create_app(settings, hasher)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            yield http


@pytest.mark.parametrize("field", ["email", "username"])
async def test_known_and_unknown_accounts_cost_the_same(
    unthrottled: httpx.AsyncClient, field: str
) -> None:
    joined = await unthrottled.post(
        "/join",
        json={
            "username": "minsu",
            "password": "violet-harbor-kettle-42",
            "email": "minsu@example.org",
        },
    )
    assert joined.status_code == 201
    known_value = "minsu@example.org" if field == "email" else "minsu"
    unknown_value = "nobody@example.org" if field == "email" else "nobody"

    def attempt(value: str) -> Callable[[], Awaitable[httpx.Response]]:
        return lambda: unthrottled.post("/password/forgot", json={field: value})

    for _ in range(5):  # warm both paths (templates compiled, statements prepared)
        await attempt(known_value)()
        await attempt(unknown_value)()
    known: list[float] = []
    unknown: list[float] = []
    for _ in range(TRIES):
        t_known, r_known = await cpu_time(attempt(known_value))
        t_unknown, r_unknown = await cpu_time(attempt(unknown_value))
        assert r_known.status_code == 202
        same_answer(r_known, r_unknown)
        known.append(t_known)
        unknown.append(t_unknown)
    # Without the decoy token and mail, an unknown account would skip a write and a render.
    ratio = median_ratio(unknown, known)
    assert 0.8 <= ratio <= 1.25, f"unknown/known median CPU time ratio {ratio:.3f}"
