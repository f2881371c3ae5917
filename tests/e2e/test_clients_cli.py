"""`tollgate clients` and `tollgate scopes` for sign-in by other apps, as real processes
against a real server and database (the code is stored as /authorize stores it)."""

from __future__ import annotations

import asyncio
import base64
from datetime import timedelta
from pathlib import Path

import httpx

from tests.conftest import PASSWORD, bearer
from tests.e2e.server import run_cli, running_server
from tests.e2e.test_cli import assert_refused
from tests.support.codes import IssuedCode, issue_code
from tollgate.services.container import Services
from tollgate.settings import Settings

CALLBACK = "https://shop.example/callback"


def printed(result_stdout: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in result_stdout.splitlines())


def stored_code(database: Path, client_id: str, user_id: str, *, days_ago: float = 0) -> IssuedCode:
    """A code put in the database file the way /authorize will (another process)."""

    async def add() -> IssuedCode:
        services = await Services.open(Settings(database_url=f"sqlite+aiosqlite:///{database}"))
        try:
            now = services.clock.now() - timedelta(days=days_ago)
            return await issue_code(services, client_id, user_id, redirect_uri=CALLBACK, now=now)
        finally:
            await services.close()

    return asyncio.run(add())


def test_register_list_and_refuse(tmp_path: Path) -> None:
    database = tmp_path / "clients.db"
    assert run_cli(database, "migrate").returncode == 0
    shop = run_cli(
        database,
        "clients",
        "create",
        "shop",
        "--redirect-uri",
        CALLBACK,
        "--redirect-uri",
        "http://127.0.0.1/callback",
        "--scope",
        "openid profile",
    )
    assert shop.returncode == 0, shop.stderr
    assert list(printed(shop.stdout)) == ["client_id", "client_secret"]
    phone = run_cli(
        database, "clients", "create", "phone", "--public", "--redirect-uri", "com.example.app:/cb"
    )
    assert list(printed(phone.stdout)) == ["client_id"]
    machine = run_cli(
        database, "clients", "create", "reports", "--grant", "client_credentials", "--scope", "r"
    )
    assert machine.returncode == 0, machine.stderr

    listing = run_cli(database, "clients", "list").stdout.splitlines()
    shop_line = next(line for line in listing if "  shop  " in line)
    assert "confidential" in shop_line
    assert "grants=authorization_code,refresh_token" in shop_line
    assert 'scope="openid profile"' in shop_line
    assert f"redirect_uris={CALLBACK},http://127.0.0.1/callback" in shop_line
    assert "public" in next(line for line in listing if "  phone  " in line)
    assert "grants=client_credentials" in next(line for line in listing if "  reports  " in line)

    assert_refused(
        run_cli(database, "clients", "create", "x", "--redirect-uri", "http://x.example/cb"),
        "uses http",
    )
    assert_refused(
        run_cli(database, "clients", "create", "y", "--redirect-uri", "https://y.example/#a"),
        "fragment",
    )
    assert_refused(
        run_cli(database, "clients", "create", "z", "--public", "--grant", "client_credentials"),
        "public client",
    )

    described = run_cli(database, "scopes", "describe", "profile", "Your username")
    assert described.returncode == 0, described.stderr
    assert run_cli(database, "scopes", "describe", "email", "Your email address").returncode == 0
    assert run_cli(database, "scopes", "list").stdout.splitlines() == [
        "email  Your email address",
        "profile  Your username",
    ]
    assert_refused(run_cli(database, "scopes", "describe", "two words", "x"), "one scope")


def test_an_app_signs_in_then_is_deleted_and_codes_are_purged(tmp_path: Path) -> None:
    database = tmp_path / "app.db"
    with (
        running_server(database, auth_cache_seconds="0") as base,
        httpx.Client(base_url=base) as http,
    ):
        created = run_cli(database, "clients", "create", "shop", "--redirect-uri", CALLBACK)
        shop = printed(created.stdout)
        joined = http.post("/join", json={"username": "pat", "password": PASSWORD}).json()
        issued = stored_code(database, shop["client_id"], joined["user"]["id"])
        secret = base64.b64encode(f"{shop['client_id']}:{shop['client_secret']}".encode())
        tokens = http.post(
            "/auth",
            data={
                "grant_type": "authorization_code",
                "code": issued.code,
                "redirect_uri": CALLBACK,
                "code_verifier": issued.pkce.verifier,
            },
            headers={"Authorization": f"Basic {secret.decode()}"},
        )
        assert tokens.status_code == 200, tokens.text
        access = tokens.json()["access_token"]
        assert http.get("/userinfo", headers=bearer(access)).json()["sub"] == joined["user"]["id"]

        deleted = run_cli(database, "clients", "delete", "shop")
        assert deleted.returncode == 0, deleted.stderr
        assert deleted.stdout.strip() == "deleted shop; ended 1 session(s)"
        assert http.get("/me", headers=bearer(access)).status_code == 401
        # The user's own session is untouched.
        assert http.get("/me", headers=bearer(joined["access_token"])).status_code == 200

        other = printed(
            run_cli(database, "clients", "create", "other", "--redirect-uri", CALLBACK).stdout
        )
        stored_code(database, other["client_id"], joined["user"]["id"], days_ago=2)
        stored_code(database, other["client_id"], joined["user"]["id"])
    purged = run_cli(database, "purge")
    assert purged.returncode == 0, purged.stderr
    assert "1 expired authorization code(s)" in purged.stdout
