"""`tollgate users require-mfa`: a real process against a real database; the next login
of that user must set up an authenticator app, and `--off` lifts it."""

from __future__ import annotations

from pathlib import Path

import httpx
import pyotp

from tests.conftest import PASSWORD
from tests.e2e.server import run_cli, running_server


def test_require_mfa_per_user(tmp_path: Path) -> None:
    database = tmp_path / "cli.db"
    assert run_cli(database, "migrate").returncode == 0
    assert run_cli(database, "users", "create", "grace", "--password", PASSWORD).returncode == 0
    assert run_cli(database, "users", "create", "henry", "--password", PASSWORD).returncode == 0
    required = run_cli(database, "users", "require-mfa", "grace")
    assert required.returncode == 0, required.stderr
    assert "requiring a second factor of grace" in required.stdout
    unknown = run_cli(database, "users", "require-mfa", "nobody")
    assert unknown.returncode == 1
    assert "Traceback" not in unknown.stderr

    with running_server(database) as base, httpx.Client(base_url=base) as http:
        grace = http.post("/login", json={"username": "grace", "password": PASSWORD})
        assert grace.status_code == 403
        assert grace.json()["error"] == "mfa_enrollment_required"
        assert "access_token" not in grace.json()
        henry = http.post("/login", json={"username": "henry", "password": PASSWORD})
        assert henry.status_code == 200

        assert run_cli(database, "users", "require-mfa", "grace", "--off").returncode == 0
        again = http.post("/login", json={"username": "grace", "password": PASSWORD})
        assert again.status_code == 200


def test_reset_mfa_removes_every_factor(tmp_path: Path) -> None:
    database = tmp_path / "cli.db"
    assert run_cli(database, "migrate").returncode == 0
    assert run_cli(database, "users", "create", "grace", "--password", PASSWORD).returncode == 0
    with running_server(database) as base, httpx.Client(base_url=base) as http:
        login = http.post("/login", json={"username": "grace", "password": PASSWORD})
        auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
        started = http.post("/mfa/totp", json={"password": PASSWORD}, headers=auth)
        code = pyotp.TOTP(started.json()["secret"]).now()
        assert http.post("/mfa/totp/confirm", json={"code": code}, headers=auth).status_code == 200
        assert (
            http.post("/login", json={"username": "grace", "password": PASSWORD}).status_code == 403
        )
        reset = run_cli(database, "users", "reset-mfa", "grace")
        assert reset.returncode == 0, reset.stderr
        assert "removed 1 second factor(s)" in reset.stdout
        assert '"event": "mfa_removed"' in reset.stderr
        again = http.post("/login", json={"username": "grace", "password": PASSWORD})
        assert again.status_code == 200
