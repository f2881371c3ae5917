"""A real nginx protects an upstream with Tollgate's GET /auth (auth_request)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import PASSWORD, bearer
from tests.e2e.server import free_port, run_cli, running_process, running_server, stop

ROOT = Path(__file__).resolve().parents[2]
SNIPPET = ROOT / "examples" / "nginx" / "tollgate-auth.conf"


def nginx_binary() -> str:
    path = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(path):
        pytest.fail("nginx is not installed; ./scripts/test installs Debian's nginx")
    return path


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
        port = free_port()
        server = (
            SNIPPET.read_text()
            .replace("127.0.0.1:8080", f"127.0.0.1:{port}")
            .replace("127.0.0.1:8000", tollgate.removeprefix("http://"))
            .replace("127.0.0.1:9000", upstream)
        )
        prefix = tmp_path / "nginx"
        prefix.mkdir()
        conf = prefix / "nginx.conf"
        conf.write_text(
            "daemon off;\nworker_processes 1;\n"
            f"pid {prefix}/nginx.pid;\nerror_log {prefix}/error.log warn;\n"
            "events {}\nhttp {\n"
            f"  access_log off;\n  client_body_temp_path {prefix}/body;\n"
            f"  proxy_temp_path {prefix}/proxy;\n  fastcgi_temp_path {prefix}/fastcgi;\n"
            f"  uwsgi_temp_path {prefix}/uwsgi;\n  scgi_temp_path {prefix}/scgi;\n"
            f"{server}\n}}\n"
        )
        process = subprocess.Popen(
            [nginx_binary(), "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "stderr.log")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 15
            while True:
                try:
                    httpx.get(base, timeout=1)
                    break
                except httpx.TransportError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError((prefix / "error.log").read_text()) from None
                    time.sleep(0.1)
            yield base, tollgate
        finally:
            stop(process)


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
