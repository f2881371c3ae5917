"""Every known token attack is refused with 401, never a 500, and leaves no trace."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tests.conftest import OTHER_PASSWORD, PASSWORD, bearer, join
from tests.security.forge import Forger, parts
from tests.support.db import rows
from tollgate.store.schema import AuditEventRow, RefreshTokenRow, SessionRow, UserRow


class Listener:
    """A TCP port that records whether anyone connects (a would-be jku/x5u fetch)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.2)
        self.connections = 0
        self._stop = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/jwks.json"

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop = True
        self._thread.join()
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


@pytest.fixture
async def forger(app: FastAPI, client: httpx.AsyncClient) -> Forger:
    tokens = await join(client)
    key = await app.state.services.keyring.signer()
    return Forger(key, tokens["access_token"], tokens["refresh_token"])


async def assert_refused(client: httpx.AsyncClient, token: str, name: str) -> None:
    header = f"Bearer {token}".encode("utf-8", "surrogateescape")
    for path in ("/auth", "/me", "/sessions"):
        response = await client.get(path, headers={"Authorization": header})
        assert response.status_code == 401, (name, path, response.text)
        body = response.json()
        assert body["error"] == "invalid_token", (name, path, body)
        assert response.headers["www-authenticate"].startswith('Bearer realm="tollgate"')


async def test_forged_access_tokens(
    client: httpx.AsyncClient, forger: Forger, listener: Listener
) -> None:
    attacks = forger.access_attacks(listener.url)
    assert len(attacks) >= 45
    for name, token in attacks.items():
        await assert_refused(client, token, name)
    assert listener.connections == 0, "a token made the server fetch a URL"
    # After the whole burst the genuine token still works.
    ok = await client.get("/auth", headers=bearer(forger.access))
    assert ok.status_code == 200


async def test_forged_refresh_tokens(client: httpx.AsyncClient, forger: Forger) -> None:
    for name, token in forger.refresh_attacks().items():
        response = await client.post("/refresh", json={"refresh_token": token[:8192]})
        assert response.status_code == 401, (name, response.text)
        assert response.json()["error"] == "invalid_grant", name
        oauth = await client.post(
            "/auth", data={"grant_type": "refresh_token", "refresh_token": token[:8192]}
        )
        assert oauth.status_code == 400, (name, oauth.text)
    # None of the forgeries was mistaken for a replay: the real token still rotates.
    ok = await client.post("/refresh", json={"refresh_token": forger.refresh})
    assert ok.status_code == 200


async def test_huge_authorization_header(client: httpx.AsyncClient, forger: Forger) -> None:
    response = await client.get("/me", headers=bearer("x" * 200_000))
    assert response.status_code == 401


async def state(app: FastAPI) -> list[tuple[object, ...]]:
    """Every row an attack could change: users, sessions, refresh tokens, audit events."""
    async with rows(app.state.services) as db:
        found: list[tuple[object, ...]] = []
        for query in (
            select(UserRow.id, UserRow.password_hash, UserRow.disabled, UserRow.scope),
            select(SessionRow.id, SessionRow.revoked_at, SessionRow.last_used_at),
            select(RefreshTokenRow.id, RefreshTokenRow.used_at, RefreshTokenRow.replaced_by),
            select(AuditEventRow.event),
        ):
            found.extend(tuple(row) for row in (await db.execute(query)).all())
    return sorted(found, key=repr)


async def test_attacks_leave_no_trace(
    client: httpx.AsyncClient, app: FastAPI, forger: Forger, listener: Listener
) -> None:
    """Forgeries sent to every route that changes state change nothing."""
    before = await state(app)
    sessions_before = (await client.get("/sessions", headers=bearer(forger.access))).json()
    sid = sessions_before[0]["id"]
    # Revoking with a real token is allowed, of course; "unknown jti" is signed with the
    # server's own key (it isolates the jti lookup on /refresh), so to /revoke it is as
    # real as any token of that session.
    refresh_attacks = forger.refresh_attacks()
    genuine = {forger.access, forger.refresh, refresh_attacks["unknown jti"]}
    for name, token in forger.access_attacks(listener.url).items():
        header = {"Authorization": f"Bearer {token}".encode("utf-8", "surrogateescape")}
        for method, path, body in (
            ("POST", "/logout", {"all": True}),
            ("DELETE", f"/sessions/{sid}", None),
            ("POST", "/password", {"current_password": PASSWORD, "new_password": OTHER_PASSWORD}),
        ):
            response = await client.request(method, path, headers=header, json=body)
            assert response.status_code == 401, (name, path, response.text)
        if token not in genuine:
            revoked = await client.post("/revoke", data={"token": token[:8192]})
            assert revoked.status_code == 200, (name, revoked.text)  # RFC 7009: always 200
    for name, token in refresh_attacks.items():
        refreshed = await client.post("/refresh", json={"refresh_token": token[:8192]})
        assert refreshed.status_code == 401, (name, refreshed.text)
        if token not in genuine:
            for hint in ("refresh_token", "access_token"):
                revoked = await client.post(
                    "/revoke", data={"token": token[:8192], "token_type_hint": hint}
                )
                assert revoked.status_code == 200, (name, revoked.text)
    assert await state(app) == before
    after = await client.get("/sessions", headers=bearer(forger.access))
    assert after.json() == sessions_before
    # And the real tokens still do all they did: nothing was used up or revoked.
    assert (
        await client.post("/refresh", json={"refresh_token": forger.refresh})
    ).status_code == 200


async def test_clock_leeway_applies_to_nbf_and_iat_only(
    client: httpx.AsyncClient, forger: Forger
) -> None:
    """CLOCK_LEEWAY (5 s): a token from a replica whose clock runs 3 s ahead is accepted;
    10 s ahead is not; and `exp` gets no leeway at all."""
    header, claims, _ = parts(forger.access)
    now = int(time.time())
    for changes, expected in (
        ({"nbf": now + 3}, 200),
        ({"iat": now + 3, "nbf": now + 3}, 200),
        ({"nbf": now + 10}, 401),
        ({"iat": now + 10}, 401),
        ({"exp": now - 2}, 401),  # within 5 s of now, but expired is expired
    ):
        token = forger.signed(header, {**claims, **changes})
        response = await client.get("/auth", headers=bearer(token))
        assert response.status_code == expected, (changes, response.text)


async def test_controls_signed_like_the_attacks_are_accepted(
    client: httpx.AsyncClient, forger: Forger
) -> None:
    """The signing helpers make valid tokens, so each attack fails for its own reason."""
    header, claims, _ = parts(forger.access)
    for token in (
        forger.signed(header, claims),
        forger.signed_raw(json.dumps(header).encode(), json.dumps(claims).encode()),
    ):
        response = await client.get("/auth", headers=bearer(token))
        assert response.status_code == 200, response.text
