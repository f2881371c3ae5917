"""`serve --host 0.0.0.0` without TOLLGATE_ISSUER warns and keeps 0.0.0.0 out of tokens."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import jwt

from tests.conftest import PASSWORD
from tests.e2e.server import TOLLGATE, free_port, running_process, tollgate_env


def test_wildcard_host_warns_and_tokens_name_the_machine(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    command = [*TOLLGATE, "serve", "--host", "0.0.0.0", "--port", str(port)]  # noqa: S104
    base = f"http://127.0.0.1:{port}"  # requests stay on loopback
    with running_process(command, tollgate_env(tmp_path / "t.db"), f"{base}/health", log):
        joined = httpx.post(f"{base}/join", json={"username": "minsu", "password": PASSWORD})
        metadata = httpx.get(f"{base}/.well-known/openid-configuration").json()
    claims = jwt.decode(joined.json()["access_token"], options={"verify_signature": False})
    expected = f"http://{socket.gethostname()}:{port}"
    assert claims["iss"] == metadata["issuer"] == expected
    assert "0.0.0.0" not in joined.text  # noqa: S104
    assert "warning: TOLLGATE_ISSUER is not set" in log.read_text()
