"""Key rotation with the CLI while a real server runs: nobody is logged out."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import httpx
import jwt
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import PASSWORD, bearer
from tests.e2e.server import run_cli, running_server, tollgate_env
from tollgate.clock import utcnow
from tollgate.keys.generation import NewKey, generate_key
from tollgate.settings import Settings
from tollgate.store.engine import create_engine
from tollgate.store.schema import SigningKeyRow
from tollgate.verify import Verifier


def kid(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


def test_rotate_then_retire(tmp_path: Path) -> None:
    database = tmp_path / "keys.db"
    settings = {"key_reload_interval": "0.2", "jwks_max_age": "4"}
    with running_server(database, **settings) as base, httpx.Client(base_url=base) as http:
        before = http.post("/join", json={"username": "kay", "password": PASSWORD}).json()
        old_kid = kid(before["access_token"])

        rotated = run_cli(database, "keys", "rotate", **settings)
        assert rotated.returncode == 0, rotated.stderr
        new_kid, new_id_token_kid = (line.split()[0] for line in rotated.stdout.splitlines())
        assert new_id_token_kid.startswith("idt-")
        time.sleep(0.5)
        # Published at once, signing only after the JWKS max-age (4 s here).
        published = {k["kid"] for k in http.get("/.well-known/jwks.json").json()["keys"]}
        assert {k for k in published if not k.startswith("idt-")} == {old_kid, new_kid}
        assert new_id_token_kid in published
        other = http.post("/login", json={"username": "kay", "password": PASSWORD}).json()
        assert kid(other["access_token"]) == old_kid
        deadline = time.monotonic() + 10
        while kid(other["access_token"]) == old_kid and time.monotonic() < deadline:
            time.sleep(0.5)
            other = http.post("/refresh", json={"refresh_token": other["refresh_token"]}).json()

        after = http.post("/refresh", json={"refresh_token": before["refresh_token"]}).json()
        assert kid(after["access_token"]) == new_kid
        assert kid(after["refresh_token"]) == new_kid
        # The token signed with the previous key still works, here and for JWKS clients.
        assert http.get("/me", headers=bearer(before["access_token"])).status_code == 200
        jwks = jwt.PyJWKClient(f"{base}/.well-known/jwks.json")
        for token in (before["access_token"], after["access_token"]):
            jwt.decode(
                token,
                jwks.get_signing_key_from_jwt(token),
                algorithms=["ES256"],
                audience="tollgate",
            )
        listing = run_cli(database, "keys", "list", **settings).stdout
        assert f"{new_kid}  ES256  signing" in listing
        assert f"{old_kid}  ES256  verifying" in listing

        refused = run_cli(database, "keys", "retire", old_kid, **settings)
        assert refused.returncode == 1
        assert "--force" in refused.stderr
        assert run_cli(database, "keys", "retire", new_kid, **settings).returncode == 1

        retired = run_cli(database, "keys", "retire", old_kid, "--force", **settings)
        assert retired.returncode == 0, retired.stderr
        time.sleep(0.5)
        assert http.get("/me", headers=bearer(before["access_token"])).status_code == 401
        assert http.get("/me", headers=bearer(after["access_token"])).status_code == 200
        keys = http.get("/.well-known/jwks.json").json()["keys"]
        assert [k["kid"] for k in keys if not k["kid"].startswith("idt-")] == [new_kid]
        # Both ID-token keys stay: the new one signs ID tokens from the same moment on.
        assert f"{new_id_token_kid}  RS256  signing ID tokens" in listing


def key_whose_id_starts_with(prefix: str) -> NewKey:
    """A real ES256 key whose RFC 7638 thumbprint begins with `prefix` (1 in 64 per "-")."""
    while True:
        key = generate_key("ES256")
        if key.kid.startswith(prefix) and not key.kid.startswith(prefix + "-"):
            return key


def add_pending_key(database: Path, key: NewKey) -> None:
    """Store a key as `keys rotate` does, signing only from tomorrow (so retiring is safe)."""

    async def store() -> None:
        engine = create_engine(Settings(database_url=f"sqlite+aiosqlite:///{database}"))
        now = utcnow()
        async with AsyncSession(engine) as db, db.begin():
            db.add(
                SigningKeyRow(
                    kid=key.kid,
                    alg=key.alg,
                    private_key=key.private_key,
                    public_jwk=json.dumps(key.public_jwk),
                    created_at=now,
                    activates_at=now + timedelta(days=1),
                )
            )
        await engine.dispose()

    asyncio.run(store())


def test_key_ids_starting_with_a_dash(tmp_path: Path) -> None:
    database = tmp_path / "dash.db"
    assert run_cli(database, "migrate").returncode == 0
    keys = [key_whose_id_starts_with(p) for p in ("-", "--", "-")]
    for key in keys:
        add_pending_key(database, key)
    listing = run_cli(database, "keys", "list")
    assert listing.returncode == 0, listing.stderr
    # Each id is the first word of its line, ready to paste.
    listed = {line.split()[0] for line in listing.stdout.splitlines()}
    assert {k.kid for k in keys} <= listed

    single, double, separated = (k.kid for k in keys)
    for args in (
        [single],
        [double, "--force"],
        ["--force", "--", separated],
    ):
        retired = run_cli(database, "keys", "retire", *args)
        assert retired.returncode == 0, (args, retired.stderr)
        assert retired.stdout.strip() == f"retired {args[-1] if args[0] == '--force' else args[0]}"
    listing = run_cli(database, "keys", "list").stdout
    for key in keys:
        assert f"{key.kid}  ES256  retired" in listing
    typo = run_cli(database, "keys", "retire", "--forse")
    assert typo.returncode == 1
    assert "No usable key with kid '--forse'" in typo.stderr


def readme_line(containing: str) -> str:
    """The one line of README.md holding `containing`: what a user would copy."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    lines = [line.strip() for line in readme.splitlines() if containing in line]
    assert len(lines) == 1, lines
    return lines[0]


def test_hs256_secret_for_a_single_verifier(tmp_path: Path) -> None:
    database = tmp_path / "hs.db"
    with running_server(database, signing_alg="HS256") as base:
        tokens = httpx.post(f"{base}/join", json={"username": "hal", "password": PASSWORD}).json()
        published = httpx.get(f"{base}/.well-known/jwks.json").json()["keys"]
        assert [k["alg"] for k in published] == ["RS256"]  # the ID-token key only
        printed = run_cli(database, "keys", "secret", signing_alg="HS256")
        assert printed.returncode == 0, printed.stderr
        kid_line, secret_line = printed.stdout.splitlines()
        assert kid_line == f"kid={kid(tokens['access_token'])}"
        assert secret_line.startswith("secret=")

        # README's instruction, as a user would copy it: the shell line, then Python's
        # base64.urlsafe_b64decode of the file it writes.
        command = readme_line("tollgate keys secret |")
        assert command.startswith("tollgate keys secret | sed")
        shell = subprocess.run(
            ["bash", "-c", command],
            cwd=tmp_path,
            env={
                **tollgate_env(database, signing_alg="HS256"),
                "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
            },
            capture_output=True,
            text=True,
            check=True,
        )
        assert shell.stderr == ""
        secret = base64.urlsafe_b64decode((tmp_path / "hs256.secret").read_text())
        assert len(secret) == 64
        claims = jwt.decode(
            tokens["access_token"], secret, algorithms=["HS256"], audience="tollgate", issuer=base
        )
        assert claims["username"] == "hal"
        assert Verifier(base, hs256_secret=secret).verify(tokens["access_token"]).username == "hal"
    not_hmac = run_cli(tmp_path / "es.db", "migrate")
    assert not_hmac.returncode == 0, not_hmac.stderr
    refused = run_cli(tmp_path / "es.db", "keys", "secret")
    assert refused.returncode == 1
    assert "HS256" in refused.stderr
    assert refused.stdout == ""
