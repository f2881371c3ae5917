"""Every known token attack is refused with 401, never a 500, and leaves no trace."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import bearer, join
from tests.security.forge import Forger, parts


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


async def test_attacks_leave_no_session_behind(
    client: httpx.AsyncClient, app: FastAPI, forger: Forger, listener: Listener
) -> None:
    before = await client.get("/sessions", headers=bearer(forger.access))
    for token in forger.access_attacks(listener.url).values():
        await client.get(
            "/auth", headers={"Authorization": f"Bearer {token}".encode("utf-8", "surrogateescape")}
        )
    after = await client.get("/sessions", headers=bearer(forger.access))
    assert before.json() == after.json()


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
