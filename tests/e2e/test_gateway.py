"""A real nginx protects an upstream with Tollgate's GET /auth (auth_request)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import PASSWORD, bearer
from tests.e2e.server import free_port, run_cli, running_process, running_server
from tests.support.dpop import ProofKey
from tests.support.nginx import example, running_nginx

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def upstream(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "tests.e2e.echo_app:app",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with running_process(command, env, f"http://127.0.0.1:{port}/", tmp_path / "echo.log"):
        yield f"127.0.0.1:{port}"


@pytest.fixture
def gateway(tmp_path: Path, upstream: str) -> Iterator[tuple[str, str]]:
    with running_server(tmp_path / "tollgate.db") as tollgate:
        listen = f"127.0.0.1:{free_port()}"
        server = example(
            "tollgate-auth.conf",
            {
                "127.0.0.1:8080": listen,
                "127.0.0.1:8000": tollgate.removeprefix("http://"),
                "127.0.0.1:9000": upstream,
            },
        )
        with running_nginx(tmp_path, server, listen):
            yield f"http://{listen}", tollgate


def test_nginx_auth_request(gateway: tuple[str, str], tmp_path: Path) -> None:
    nginx, tollgate = gateway
    tokens = httpx.post(f"{tollgate}/join", json={"username": "Minsu", "password": PASSWORD})
    access = tokens.json()["access_token"]

    anonymous = httpx.get(f"{nginx}/hello")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == 'Bearer realm="tollgate"'

    forged = httpx.get(f"{nginx}/hello", headers=bearer("a.b.c"))
    assert forged.status_code == 401

    allowed = httpx.get(f"{nginx}/hello", headers={**bearer(access), "X-Auth-User": "root"})
    assert allowed.status_code == 200
    seen = allowed.json()["headers"]
    assert seen["x-auth-user"] == "Minsu"  # the client's own X-Auth-User is overwritten
    assert seen["x-auth-subject"] == tokens.json()["user"]["id"]
    assert seen["x-auth-scope"] == "profile"

    assert httpx.get(f"{nginx}/admin/panel", headers=bearer(access)).status_code == 403

    created = run_cli(
        tmp_path / "tollgate.db",
        "users",
        "create",
        "root",
        "--password",
        PASSWORD,
        "--scope",
        "profile admin",
    )
    assert created.returncode == 0, created.stderr
    root = httpx.post(f"{tollgate}/login", json={"username": "root", "password": PASSWORD})
    admin = httpx.get(f"{nginx}/admin/panel", headers=bearer(root.json()["access_token"]))
    assert admin.status_code == 200
    assert admin.json()["headers"]["x-auth-user"] == "root"

    httpx.post(f"{tollgate}/logout", headers=bearer(access))
    assert httpx.get(f"{nginx}/hello", headers=bearer(access)).status_code == 401


def test_nginx_auth_request_with_dpop(gateway: tuple[str, str]) -> None:
    """A DPoP-bound token through nginx: the proof names the request nginx received, which
    Tollgate rebuilds from X-Original-Method/-URI and X-Forwarded-Proto/-Host."""
    nginx, tollgate = gateway
    httpx.post(f"{tollgate}/join", json={"username": "jun", "password": PASSWORD})
    key = ProofKey()
    login = httpx.post(
        f"{tollgate}/login",
        json={"username": "jun", "password": PASSWORD},
        headers={"DPoP": key.proof("POST", f"{tollgate}/login")},
    )
    access = login.json()["access_token"]
    assert login.json()["token_type"] == "DPoP"

    def call(method: str, path: str, proof: str) -> httpx.Response:
        headers = {"Authorization": f"DPoP {access}", "DPoP": proof}
        return httpx.request(method, f"{nginx}{path}", headers=headers)

    proof = key.proof("POST", f"{nginx}/notes", access_token=access)
    allowed = call("POST", "/notes?draft=1", proof)
    assert allowed.status_code == 200
    assert allowed.json()["headers"]["x-auth-user"] == "jun"
    assert call("POST", "/notes", proof).status_code == 401  # replayed
    assert (
        call("GET", "/notes", key.proof("POST", f"{nginx}/notes", access_token=access)).status_code
        == 401
    )
    assert (
        call("POST", "/other", key.proof("POST", f"{nginx}/notes", access_token=access)).status_code
        == 401
    )
    thief = httpx.get(f"{nginx}/notes", headers=bearer(access))
    assert thief.status_code == 401
    assert thief.headers["www-authenticate"].startswith("DPoP ")
