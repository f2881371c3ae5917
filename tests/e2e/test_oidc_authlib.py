"""The token endpoint for other apps, driven by a client we did not write: Authlib's
OAuth2Session (code + PKCE, refresh, client_credentials), and its OpenID Connect ID token
rules (authlib.oidc.core.CodeIDToken: iss, aud, azp, nonce, auth_time, at_hash) on a
signature checked with joserfc against the published JWKS. The code is stored as
/authorize will store it (tests/support/codes.py), until the browser part exists."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.conftest import PASSWORD, bearer
from tests.e2e.server import run_cli, running_server
from tests.support.codes import IssuedCode, issue_code
from tollgate.services.container import Services
from tollgate.settings import Settings

CALLBACK = "http://127.0.0.1:9999/callback"


def printed(stdout: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in stdout.splitlines())


def stored_code(database: Path, client_id: str, user_id: str) -> IssuedCode:
    async def add() -> IssuedCode:
        services = await Services.open(Settings(database_url=f"sqlite+aiosqlite:///{database}"))
        try:
            return await issue_code(services, client_id, user_id, redirect_uri=CALLBACK)
        finally:
            await services.close()

    return asyncio.run(add())


def test_authlib_code_exchange_id_token_refresh_and_client_credentials(tmp_path: Path) -> None:
    database = tmp_path / "authlib.db"
    with running_server(database) as base, httpx.Client(base_url=base) as http:
        meta = http.get("/.well-known/openid-configuration").json()
        shop = printed(
            run_cli(database, "clients", "create", "shop", "--redirect-uri", CALLBACK).stdout
        )
        user = http.post("/join", json={"username": "ada", "password": PASSWORD}).json()["user"]
        issued = stored_code(database, shop["client_id"], user["id"])

        with OAuth2Session(
            shop["client_id"],
            shop["client_secret"],
            token_endpoint_auth_method="client_secret_basic",
            redirect_uri=CALLBACK,
        ) as session:
            token = session.fetch_token(
                meta["token_endpoint"],
                grant_type="authorization_code",
                code=issued.code,
                code_verifier=issued.pkce.verifier,
            )
            assert token["scope"] == "email openid profile"
            keys = KeySet.import_key_set(http.get(meta["jwks_uri"]).json())
            decoded = jwt.decode(token["id_token"], keys, algorithms=["RS256"])
            claims = CodeIDToken(
                decoded.claims,
                decoded.header,
                options={"iss": {"value": meta["issuer"]}, "aud": {"value": shop["client_id"]}},
                params={
                    "nonce": issued.record.nonce,
                    "client_id": shop["client_id"],
                    "access_token": token["access_token"],
                },
            )
            claims.validate()  # raises on any broken rule, at_hash included
            assert claims["sub"] == user["id"]
            assert session.get(f"{base}/userinfo").json()["preferred_username"] == "ada"

            refreshed = session.refresh_token(meta["token_endpoint"])
            assert refreshed["refresh_token"] != token["refresh_token"]
            assert http.get("/me", headers=bearer(refreshed["access_token"])).status_code == 200

        machine = printed(
            run_cli(
                database,
                "clients",
                "create",
                "reports",
                "--grant",
                "client_credentials",
                "--scope",
                "reports:read",
            ).stdout
        )
        with OAuth2Session(
            machine["client_id"],
            machine["client_secret"],
            token_endpoint_auth_method="client_secret_post",
        ) as service:
            own = service.fetch_token(meta["token_endpoint"], grant_type="client_credentials")
        assert own["scope"] == "reports:read"
        assert "refresh_token" not in own
