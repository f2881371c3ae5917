"""Clients against a real Tollgate: our httpx.Auth (2-second access tokens) and Authlib."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session

from tests.conftest import PASSWORD, bearer
from tests.e2e.server import running_server
from tollgate.client import LoginFailed, SessionExpired, TollgateAuth


@pytest.fixture(scope="module")
def short_lived(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    database = tmp_path_factory.mktemp("clients") / "tollgate.db"
    with running_server(database, access_ttl="2") as base:
        yield base


def join(base: str, name: str) -> dict[str, Any]:
    response = httpx.post(f"{base}/join", json={"username": name, "password": PASSWORD})
    assert response.status_code == 201
    body: dict[str, Any] = response.json()
    return body


def test_stays_logged_in_past_several_access_lifetimes(short_lived: str) -> None:
    join(short_lived, "stayer")
    seen: list[dict[str, Any]] = []
    auth = TollgateAuth(short_lived, "stayer", PASSWORD, on_tokens=seen.append)
    with httpx.Client(base_url=short_lived, auth=auth) as http:
        started = time.monotonic()
        # Until the login and three refreshes (1.6 s apart: past two 2-second lifetimes).
        while len(seen) < 4:
            assert time.monotonic() - started < 60, seen
            response = http.get("/me")
            assert response.status_code == 200
            assert response.json()["username"] == "stayer"
            time.sleep(0.2)
    refresh_ids = [
        jwt.decode(t["refresh_token"], options={"verify_signature": False})["jti"] for t in seen
    ]
    assert len(set(refresh_ids)) == len(refresh_ids)  # rotated every time
    assert auth.refresh_token == seen[-1]["refresh_token"]


def test_refreshes_after_a_401(short_lived: str) -> None:
    join(short_lived, "sleeper")
    frozen = time.monotonic()  # a clock that never moves: no refresh ahead of expiry
    auth = TollgateAuth(short_lived, "sleeper", PASSWORD, clock=lambda: frozen)
    with httpx.Client(base_url=short_lived, auth=auth) as http:
        assert http.get("/me").status_code == 200
        first = auth.access_token
        assert first is not None
        # Wait until the server itself refuses that token (it expired), then call again.
        # The token is bound to the client's key (DPoP): each probe carries a proof.
        assert auth.dpop_key is not None
        key, me = auth.dpop_key, f"{short_lived}/me"

        def probe() -> int:
            proof = key.proof("GET", me, access_token=first)
            headers = {"Authorization": f"DPoP {first}", "DPoP": proof}
            return httpx.get(me, headers=headers).status_code

        deadline = time.monotonic() + 60
        while probe() != 401:
            assert time.monotonic() < deadline, "the 2-second token never expired"
            time.sleep(0.2)
        assert http.get("/me").status_code == 200
        assert auth.access_token != first


def test_clear_error_when_the_session_is_gone(short_lived: str) -> None:
    tokens = join(short_lived, "evicted")
    auth = TollgateAuth(short_lived, "evicted", PASSWORD)
    with httpx.Client(base_url=short_lived, auth=auth) as http:
        assert http.get("/me").status_code == 200
        httpx.post(
            f"{short_lived}/logout", json={"all": True}, headers=bearer(tokens["access_token"])
        )
        with pytest.raises(SessionExpired) as ended:
            http.get("/me")
    # The server's sentence once, not "The session has ended: The session has ended."
    assert str(ended.value) == "The session has ended. Log in again."


def test_wrong_password(short_lived: str) -> None:
    join(short_lived, "forgetful")
    with (
        httpx.Client(
            base_url=short_lived, auth=TollgateAuth(short_lived, "forgetful", "not-my-password")
        ) as http,
        pytest.raises(LoginFailed, match="incorrect"),
    ):
        http.get("/me")


def test_resume_from_a_stored_refresh_token(short_lived: str) -> None:
    tokens = join(short_lived, "resumer")
    auth = TollgateAuth(short_lived, refresh_token=tokens["refresh_token"])
    with httpx.Client(base_url=short_lived, auth=auth) as http:
        assert http.get("/me").json()["username"] == "resumer"


def test_async_concurrent_requests_share_one_refresh(short_lived: str) -> None:
    join(short_lived, "crowd")
    seen: list[dict[str, Any]] = []
    now = [0.0]  # the client's clock, moved by the test
    auth = TollgateAuth(short_lived, "crowd", PASSWORD, on_tokens=seen.append, clock=lambda: now[0])

    async def burst() -> list[int]:
        async with httpx.AsyncClient(base_url=short_lived, auth=auth) as http:
            await http.get("/me")
            now[0] += 60  # past the token's refresh time, for the client
            responses = await asyncio.gather(*(http.get("/me") for _ in range(10)))
            return [r.status_code for r in responses]

    assert asyncio.run(burst()) == [200] * 10
    assert len(seen) == 2  # one login, one refresh for all ten
    first, second = (
        jwt.decode(t["refresh_token"], options={"verify_signature": False}) for t in seen
    )
    assert second["sid"] == first["sid"]  # a refresh of the session, not a second login
    assert second["jti"] != first["jti"]


def test_authlib_password_refresh_and_revoke(short_lived: str) -> None:
    join(short_lived, "authlib")
    token_url = f"{short_lived}/auth"
    with OAuth2Session(
        client_id="any-public-client", token_endpoint_auth_method="none", token_endpoint=token_url
    ) as session:
        token = session.fetch_token(token_url, username="authlib", password=PASSWORD)
        assert token["token_type"] == "Bearer"
        assert session.get(f"{short_lived}/me").json()["username"] == "authlib"

        old_refresh = token["refresh_token"]
        refreshed = session.refresh_token(token_url, refresh_token=old_refresh)
        assert refreshed["refresh_token"] != old_refresh
        assert session.get(f"{short_lived}/me").status_code == 200

        revoked = session.revoke_token(
            f"{short_lived}/revoke", refreshed["refresh_token"], token_type_hint="refresh_token"
        )
        assert revoked.status_code == 200
        me = httpx.get(f"{short_lived}/me", headers=bearer(session.token["access_token"]))
        assert me.status_code == 401
        # Authlib refreshes 2-second tokens before every call; the revoked session says no.
        with pytest.raises(OAuthError, match="invalid_grant"):
            session.get(f"{short_lived}/me")


def test_authlib_sees_wrong_password_as_oauth_error(short_lived: str) -> None:
    join(short_lived, "authlib2")
    token_url = f"{short_lived}/auth"
    with (
        OAuth2Session(client_id="c", token_endpoint_auth_method="none") as session,
        pytest.raises(OAuthError, match="invalid_grant"),
    ):
        session.fetch_token(token_url, username="authlib2", password="wrong-wrong-1")
