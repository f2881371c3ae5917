"""Second factors through the API (issue 18), with pyotp as the authenticator app: enrol,
log in on every password path, replay, drift (a moved clock, no sleeping), recovery
codes, the mfa_token's life, throttling, amr/acr after refresh, GET /auth?acr=."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pyotp
import pytest
from fastapi import FastAPI

from tests.conftest import ISSUER, PASSWORD, bearer, join
from tests.conftest import token_claims as claims
from tests.support.dpop import ProofKey
from tollgate.app import create_app
from tollgate.clock import MovableClock
from tollgate.services.passwords import PasswordHasher
from tollgate.settings import Settings
from tollgate.store.records import AuditQuery


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {}


@pytest.fixture
async def mfa_app(
    make_settings: Callable[..., Settings],
    hasher: PasswordHasher,
    clock: MovableClock,
    settings_overrides: dict[str, Any],
) -> AsyncIterator[FastAPI]:
    application = create_app(make_settings(**settings_overrides), hasher, clock)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def api(mfa_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=mfa_app.state.asgi, client=("203.0.113.7", 5555))
    async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as c:
        yield c


class App:
    """The user's authenticator app: the secret it was given, read at the test's time."""

    def __init__(self, secret: str, clock: MovableClock) -> None:
        self.totp = pyotp.TOTP(secret)
        self.clock = clock

    def code(self, steps: int = 0) -> str:
        return self.totp.at(self.clock.now(), counter_offset=steps)


async def enrol(
    api: httpx.AsyncClient, clock: MovableClock, name: str = "minsu"
) -> tuple[dict[str, Any], App, list[str]]:
    tokens = await join(api, name)
    started = await api.post(
        "/mfa/totp", json={"password": PASSWORD}, headers=bearer(tokens["access_token"])
    )
    assert started.status_code == 200, started.text
    app = App(started.json()["secret"], clock)
    confirmed = await api.post(
        "/mfa/totp/confirm", json={"code": app.code()}, headers=bearer(tokens["access_token"])
    )
    assert confirmed.status_code == 200, confirmed.text
    clock.advance(30)  # the confirming code's step is used; the next login needs the next
    return tokens, app, confirmed.json()["recovery_codes"]


async def password_step(api: httpx.AsyncClient, name: str = "minsu") -> dict[str, Any]:
    response = await api.post("/login", json={"username": name, "password": PASSWORD})
    assert response.status_code == 403, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_enrolment_needs_the_password_and_shows_a_qr_code(
    api: httpx.AsyncClient, clock: MovableClock
) -> None:
    tokens = await join(api)
    auth = bearer(tokens["access_token"])
    missing = await api.post("/mfa/totp", json={}, headers=auth)
    assert missing.status_code == 422
    assert "password" in missing.json()["fields"]
    wrong = await api.post("/mfa/totp", json={"password": "not it at all"}, headers=auth)
    assert wrong.status_code == 401
    assert (await api.post("/mfa/totp", json={"password": PASSWORD})).status_code == 401

    started = await api.post("/mfa/totp", json={"password": PASSWORD}, headers=auth)
    body = started.json()
    assert started.headers["cache-control"] == "no-store"
    assert body["otpauth_uri"].startswith("otpauth://totp/")
    assert f"secret={body['secret']}" in body["otpauth_uri"]
    assert body["qr_svg"].startswith("<svg")
    assert 'xmlns="http://www.w3.org/2000/svg"' in body["qr_svg"]
    assert "<script" not in body["qr_svg"]
    # Pending: a login still needs nothing more.
    pending = await api.get("/mfa", headers=auth)
    assert pending.json()["totp"]["confirmed"] is False
    assert (
        await api.post("/login", json={"username": "minsu", "password": PASSWORD})
    ).status_code == 200

    app = App(body["secret"], clock)
    refused = await api.post("/mfa/totp/confirm", json={"code": "000000"}, headers=auth)
    if app.code() != "000000":
        assert refused.status_code == 401
    confirmed = await api.post("/mfa/totp/confirm", json={"code": app.code()}, headers=auth)
    codes = confirmed.json()["recovery_codes"]
    assert len(codes) == 10
    assert len(set(codes)) == 10
    listed = (await api.get("/mfa", headers=auth)).json()
    assert listed["totp"]["confirmed"] is True
    assert listed["recovery_codes_left"] == 10
    # A second app while one is set up: 409.
    again = await api.post("/mfa/totp", json={"password": PASSWORD}, headers=auth)
    assert again.status_code == 409
    assert again.json()["error"] == "mfa_already_enrolled"


async def test_a_password_alone_never_yields_a_token_on_any_path(
    api: httpx.AsyncClient, clock: MovableClock
) -> None:
    await enrol(api, clock)
    at_login = await api.post("/login", json={"username": "minsu", "password": PASSWORD})
    at_grant = await api.post(
        "/auth", data={"grant_type": "password", "username": "minsu", "password": PASSWORD}
    )
    for response in (at_login, at_grant):
        assert response.status_code == 403
        body = response.json()
        assert body["error"] == "mfa_required"
        assert body["methods"] == ["totp", "recovery_code"]
        assert "access_token" not in body
        assert "refresh_token" not in body
        assert "set-cookie" not in response.headers
    # Two tokens, each its own.
    assert at_login.json()["mfa_token"] != at_grant.json()["mfa_token"]
    # The mfa_token is no bearer token.
    assert (await api.get("/me", headers=bearer(at_login.json()["mfa_token"]))).status_code == 401


async def test_the_second_step_gives_tokens_that_say_so_also_after_refresh(
    api: httpx.AsyncClient, clock: MovableClock
) -> None:
    _, app, _ = await enrol(api, clock)
    step = await password_step(api)
    done = await api.post("/login/mfa", json={"mfa_token": step["mfa_token"], "code": app.code()})
    assert done.status_code == 200, done.text
    pair = done.json()
    assert claims(pair["access_token"])["amr"] == ["pwd", "otp"]
    assert claims(pair["access_token"])["acr"] == "2"
    clock.advance(5)
    refreshed = await api.post("/refresh", json={"refresh_token": pair["refresh_token"]})
    assert claims(refreshed.json()["access_token"])["amr"] == ["pwd", "otp"]
    assert claims(refreshed.json()["access_token"])["acr"] == "2"

    strong = bearer(refreshed.json()["access_token"])
    assert (await api.get("/auth", params={"acr": "2"}, headers=strong)).status_code == 200
    weak = await join(api, "jiwoo")
    assert claims(weak["access_token"])["amr"] == ["pwd"]
    assert claims(weak["access_token"])["acr"] == "1"
    refused = await api.get("/auth", params={"acr": "2"}, headers=bearer(weak["access_token"]))
    assert refused.status_code == 403
    assert refused.json()["error"] == "insufficient_user_authentication"
    assert 'acr_values="2"' in refused.headers["www-authenticate"]
    assert (
        await api.get("/auth", params={"acr": "1"}, headers=bearer(weak["access_token"]))
    ).status_code == 200
    odd = await api.get("/auth", params={"acr": "gold"}, headers=bearer(weak["access_token"]))
    assert odd.status_code == 400


async def test_a_code_works_once(api: httpx.AsyncClient, clock: MovableClock) -> None:
    _, app, _ = await enrol(api, clock)
    code = app.code()
    first = await password_step(api)
    ok = await api.post("/login/mfa", json={"mfa_token": first["mfa_token"], "code": code})
    assert ok.status_code == 200
    second = await password_step(api)
    replay = await api.post("/login/mfa", json={"mfa_token": second["mfa_token"], "code": code})
    assert replay.status_code == 401
    assert replay.json()["error"] == "invalid_grant"
    # The token is still good for a fresh code (a wrong code does not use it up).
    clock.advance(30)
    fresh = await api.post(
        "/login/mfa", json={"mfa_token": second["mfa_token"], "code": app.code()}
    )
    assert fresh.status_code == 200
    # ... and it is used up by the success.
    clock.advance(30)
    again = await api.post(
        "/login/mfa", json={"mfa_token": second["mfa_token"], "code": app.code()}
    )
    assert again.status_code == 401


@pytest.mark.parametrize(("steps", "accepted"), [(-1, True), (1, True), (-2, False), (2, False)])
async def test_one_step_of_drift_either_way_and_no_more(
    api: httpx.AsyncClient, clock: MovableClock, steps: int, accepted: bool
) -> None:
    _, app, _ = await enrol(api, clock)
    clock.advance(60)  # away from the steps the enrolment used
    step = await password_step(api)
    # The phone's clock is `steps` steps off the server's.
    answer = await api.post(
        "/login/mfa", json={"mfa_token": step["mfa_token"], "code": app.code(steps)}
    )
    assert answer.status_code == (200 if accepted else 401), answer.text


async def test_recovery_codes_work_once(api: httpx.AsyncClient, clock: MovableClock) -> None:
    _, _, codes = await enrol(api, clock)
    step = await password_step(api)
    # Typed as people type them: upper case, no hyphen.
    typed = codes[0].replace("-", "").upper()
    ok = await api.post("/login/mfa", json={"mfa_token": step["mfa_token"], "recovery_code": typed})
    assert ok.status_code == 200, ok.text
    assert claims(ok.json()["access_token"])["amr"] == ["pwd", "otp"]
    step = await password_step(api)
    reused = await api.post(
        "/login/mfa", json={"mfa_token": step["mfa_token"], "recovery_code": codes[0]}
    )
    assert reused.status_code == 401
    other = await api.post(
        "/login/mfa", json={"mfa_token": step["mfa_token"], "recovery_code": codes[1]}
    )
    assert other.status_code == 200


async def test_regenerated_recovery_codes_replace_the_old(
    api: httpx.AsyncClient, clock: MovableClock
) -> None:
    tokens, _, codes = await enrol(api, clock)
    auth = bearer(tokens["access_token"])
    assert (
        await api.post("/mfa/recovery-codes", json={"password": "wrong password!"}, headers=auth)
    ).status_code == 401
    new = await api.post("/mfa/recovery-codes", json={"password": PASSWORD}, headers=auth)
    assert new.status_code == 200
    fresh = new.json()["recovery_codes"]
    assert len(fresh) == 10
    assert not set(fresh) & set(codes)
    step = await password_step(api)
    old = await api.post(
        "/login/mfa", json={"mfa_token": step["mfa_token"], "recovery_code": codes[2]}
    )
    assert old.status_code == 401
    ok = await api.post(
        "/login/mfa", json={"mfa_token": step["mfa_token"], "recovery_code": fresh[0]}
    )
    assert ok.status_code == 200


async def test_the_mfa_token_expires_and_needs_one_of_code_or_recovery_code(
    api: httpx.AsyncClient, clock: MovableClock
) -> None:
    _, app, _ = await enrol(api, clock)
    step = await password_step(api)
    both = await api.post(
        "/login/mfa",
        json={"mfa_token": step["mfa_token"], "code": app.code(), "recovery_code": "x"},
    )
    assert both.status_code == 422
    neither = await api.post("/login/mfa", json={"mfa_token": step["mfa_token"]})
    assert neither.status_code == 422
    unknown = await api.post("/login/mfa", json={"mfa_token": "made-up", "code": app.code()})
    assert unknown.status_code == 401
    clock.advance(301)
    late = await api.post("/login/mfa", json={"mfa_token": step["mfa_token"], "code": app.code()})
    assert late.status_code == 401
    assert "log in again" in late.json()["error_description"]


async def test_wrong_codes_are_throttled(api: httpx.AsyncClient, clock: MovableClock) -> None:
    _, app, _ = await enrol(api, clock)
    step = await password_step(api)
    wrong = f"{(int(app.code()) + 500_000) % 1_000_000:06d}"
    statuses = [
        (await api.post("/login/mfa", json={"mfa_token": step["mfa_token"], "code": wrong}))
        for _ in range(6)
    ]
    assert [r.status_code for r in statuses[:5]] == [401] * 5
    assert statuses[5].status_code == 429
    assert "retry-after" in statuses[5].headers
    # Even the right code waits now.
    right = await api.post("/login/mfa", json={"mfa_token": step["mfa_token"], "code": app.code()})
    assert right.status_code == 429


async def test_twenty_concurrent_second_steps_one_wins(
    api: httpx.AsyncClient, clock: MovableClock
) -> None:
    _, app, _ = await enrol(api, clock)
    step = await password_step(api)
    code = app.code()
    answers = await asyncio.gather(
        *(
            api.post("/login/mfa", json={"mfa_token": step["mfa_token"], "code": code})
            for _ in range(20)
        )
    )
    assert sorted(a.status_code for a in answers).count(200) == 1


async def test_the_mfa_token_is_bound_to_the_password_requests_dpop_key(
    api: httpx.AsyncClient, clock: MovableClock
) -> None:
    _, app, _ = await enrol(api, clock)
    key = ProofKey()
    step = await api.post(
        "/login",
        json={"username": "minsu", "password": PASSWORD},
        headers={"DPoP": key.proof("POST", f"{ISSUER}/login")},
    )
    assert step.status_code == 403
    token = step.json()["mfa_token"]
    unproven = await api.post("/login/mfa", json={"mfa_token": token, "code": app.code()})
    assert unproven.status_code == 401
    clock.advance(30)
    other = await api.post(
        "/login/mfa",
        json={"mfa_token": token, "code": app.code()},
        headers={"DPoP": ProofKey().proof("POST", f"{ISSUER}/login/mfa", iat=clock.timestamp())},
    )
    assert other.status_code == 401
    clock.advance(30)
    proven = await api.post(
        "/login/mfa",
        json={"mfa_token": token, "code": app.code()},
        headers={"DPoP": key.proof("POST", f"{ISSUER}/login/mfa", iat=clock.timestamp())},
    )
    assert proven.status_code == 200, proven.text
    assert proven.json()["token_type"] == "DPoP"
    assert claims(proven.json()["access_token"])["cnf"] == {"jkt": key.jkt}


async def test_removing_the_app_needs_the_password_and_is_audited(
    api: httpx.AsyncClient, clock: MovableClock, mfa_app: FastAPI
) -> None:
    tokens, _, _ = await enrol(api, clock)
    auth = bearer(tokens["access_token"])
    wrong = await api.request("DELETE", "/mfa/totp", json={"password": "nope nope"}, headers=auth)
    assert wrong.status_code == 401
    gone = await api.request("DELETE", "/mfa/totp", json={"password": PASSWORD}, headers=auth)
    assert gone.status_code == 204
    listed = (await api.get("/mfa", headers=auth)).json()
    assert listed == {"totp": None, "passkeys": [], "recovery_codes_left": 0, "required": False}
    assert (
        await api.post("/login", json={"username": "minsu", "password": PASSWORD})
    ).status_code == 200
    events = await mfa_app.state.services.audit.events(AuditQuery())
    names = [(e.event, e.detail) for e in events]
    assert ("mfa_enrolled", "totp") in names
    assert ("mfa_removed", "totp") in names


@pytest.mark.parametrize("settings_overrides", [{"require_mfa": True}])
async def test_required_without_a_factor_enrols_at_login(
    api: httpx.AsyncClient, clock: MovableClock
) -> None:
    await join(api)  # joining still answers tokens: the requirement applies at login
    step = await password_step(api)
    assert step["error"] == "mfa_enrollment_required"
    token = step["mfa_token"]
    # The enrolment token is not a second step.
    assert (
        await api.post("/login/mfa", json={"mfa_token": token, "code": "123456"})
    ).status_code == 401
    started = await api.post("/mfa/totp", json={"mfa_token": token})
    assert started.status_code == 200, started.text
    app = App(started.json()["secret"], clock)
    done = await api.post("/mfa/totp/confirm", json={"mfa_token": token, "code": app.code()})
    assert done.status_code == 200, done.text
    body = done.json()
    assert len(body["recovery_codes"]) == 10
    assert claims(body["access_token"])["amr"] == ["pwd", "otp"]
    # From now on: the usual second step.
    clock.advance(30)
    again = await password_step(api)
    assert again["error"] == "mfa_required"
