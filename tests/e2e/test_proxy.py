"""Behind a proxy: X-Forwarded-For/-Proto count only when the proxy is a trusted one.

`tollgate serve` runs uvicorn, which trusts those headers from 127.0.0.1 by default and
from the addresses in FORWARDED_ALLOW_IPS when that is set.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.conftest import PASSWORD, bearer
from tests.e2e.server import running_server

HSTS = "max-age=63072000; includeSubDomains"
FORWARDED = {"X-Forwarded-For": "198.51.100.77", "X-Forwarded-Proto": "https"}


def seen_from(base: str, name: str, headers: dict[str, str]) -> tuple[str, httpx.Response]:
    """Sign up with these headers; the address the server recorded, and its answer."""
    joined = httpx.post(
        f"{base}/join", json={"username": name, "password": PASSWORD}, headers=headers
    )
    assert joined.status_code == 201, joined.text
    sessions = httpx.get(f"{base}/sessions", headers=bearer(joined.json()["access_token"]))
    return str(sessions.json()[0]["ip"]), joined


def test_a_trusted_proxy_names_the_client_and_the_scheme(tmp_path: Path) -> None:
    with running_server(tmp_path / "proxied.db") as base:  # the proxy is on 127.0.0.1
        ip, joined = seen_from(base, "via-proxy", FORWARDED)
        assert ip == "198.51.100.77"
        assert joined.headers["strict-transport-security"] == HSTS  # https at the proxy
        ip, plain = seen_from(base, "direct", {})
        assert ip == "127.0.0.1"
        assert "strict-transport-security" not in plain.headers  # plain http: no HSTS
        health = httpx.get(f"{base}/health", headers={"X-Forwarded-Proto": "https"})
        assert health.headers["strict-transport-security"] == HSTS  # on every answer


def test_headers_from_anyone_else_are_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The proxy is elsewhere: this test, on 127.0.0.1, is just a client.
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "192.0.2.10")
    with running_server(tmp_path / "direct.db") as base:
        ip, joined = seen_from(base, "spoofer", FORWARDED)
        assert ip == "127.0.0.1"
        assert "strict-transport-security" not in joined.headers
