"""Issue 14's benchmark row: a full authorization-code sign-in of a user already logged in
to Tollgate in the browser (authorize with the SSO cookie -> code -> token exchange)
against a password login, side by side on one server. The sign-in hashes no password, so
it must run at >= 10 x the login rate.

Run alone (one server, both loads, the row printed):

    .venv/bin/python bench/oidc_signin.py
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.authorize import pkce  # noqa: E402
from tests.support.oidc import walk_to_redirect  # noqa: E402

from bench.harness import (  # noqa: E402
    CORES,
    Server,
    WrkResult,
    serve,
    tollgate,
    tree_cpu_seconds,
    wrk,
)

PASSWORD = "violet-harbor-kettle-42"
REDIRECT_URI = "http://127.0.0.1:9/callback"  # never opened: wrk reads the Location
USERNAME = "sso-bench"


@dataclass
class Load:
    """One load's rate, its wrk result, and the server's CPU seconds per operation (all
    its processes: more telling than the rate on a busy machine)."""

    per_second: float
    load: WrkResult
    cpu_per_operation: float


@dataclass
class SignInsAgainstLogins:
    signins: Load
    logins: Load


def server_cpu(server: Server) -> float:
    return sum(tree_cpu_seconds(server.process.pid).values())


def register_client(env: dict[str, str]) -> tuple[str, str]:
    """`tollgate clients create` against the server's database; (client_id, secret)."""
    command = [sys.executable, "-m", "tollgate", "clients", "create", "bench-app"]
    command += ["--redirect-uri", REDIRECT_URI, "--scope", "openid profile"]
    done = subprocess.run(
        command,
        env={**os.environ, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    printed = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    return printed["client_id"], printed["client_secret"]


def logged_in_browser(base: str, client_id: str, challenge: str) -> tuple[str, str]:
    """Log in once through the login page and allow the app on the consent page, as a
    person would; the browser's cookies (the SSO cookie) and the authorize path that,
    with them, goes straight back to the app with a code."""
    joined = httpx.post(f"{base}/join", json={"username": USERNAME, "password": PASSWORD})
    assert joined.status_code == 201, joined.text
    path = "/authorize?" + urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": "openid profile",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "nonce": "bench",
            "state": "bench",
        }
    )
    with httpx.Client(timeout=60) as browser:
        walk = walk_to_redirect(
            browser, base + path, REDIRECT_URI, username=USERNAME, password=PASSWORD
        )
        assert "code=" in walk.url, walk.url
        cookie = "; ".join(f"{c.name}={c.value}" for c in browser.cookies.jar)
        # From now on no page: the cookie alone brings a code.
        again = browser.get(base + path)
        assert again.status_code in (302, 303), again.text
        assert "code=" in again.headers["location"], again.headers["location"]
    return cookie, path


def signin_env(base: str, env: dict[str, str]) -> dict[str, str]:
    """What wrk/sso_signin.lua needs: a registered app, a browser logged in and having
    allowed it (its cookies), the authorize path and the PKCE verifier."""
    client_id, secret = register_client(env)
    verifier, challenge = pkce()
    cookie, path = logged_in_browser(base, client_id, challenge)
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {
        "BENCH_AUTHORIZE_PATH": path,
        "BENCH_COOKIE": cookie,
        "BENCH_CLIENT_AUTHORIZATION": f"Basic {basic}",
        "BENCH_REDIRECT_URI_ENCODED": quote(REDIRECT_URI, safe=""),
        "BENCH_CODE_VERIFIER": verifier,
    }


def sso_signins(server: Server, env: dict[str, str], seconds: int) -> Load:
    """Sign-ins a second of a logged-in user through the code flow (wrk/sso_signin.lua)."""
    started = server_cpu(server)
    load = wrk(
        server.base + env["BENCH_AUTHORIZE_PATH"],
        script="sso_signin.lua",
        seconds=seconds,
        connections=4 * CORES,
        env=env,
    )
    cpu = server_cpu(server) - started
    signins = re.search(r"^signins (\d+)$", load.output, re.MULTILINE)
    took = re.search(r"requests in ([\d.]+)s", load.output)
    if signins is None or took is None:
        raise RuntimeError(f"sso_signin.lua did not report its sign-ins:\n{load.output}")
    count = int(signins.group(1))
    return Load(count / float(took.group(1)), load, cpu / max(count, 1))


def password_logins(server: Server, seconds: int) -> Load:
    """POST /login of the same user, as B3 loads it."""
    started = server_cpu(server)
    load = wrk(
        server.base + "/login",
        script="post_json.lua",
        seconds=seconds,
        connections=4 * CORES,
        env={"BENCH_BODY": f'{{"username":"{USERNAME}","password":"{PASSWORD}"}}'},
    )
    cpu = server_cpu(server) - started
    return Load(load.rps, load, cpu / max(load.requests, 1))


def measure(env: dict[str, str], seconds: int) -> SignInsAgainstLogins:
    """Both loads on one fresh server, one after the other. The issuer is left to default
    to the server's own address: the login and consent pages' forms must post back to
    where this client reaches the server."""
    env = {k: v for k, v in env.items() if k != "TOLLGATE_ISSUER"}
    with serve(tollgate(), "/health", env) as server:
        wrk_env = signin_env(server.base, env)
        signins = sso_signins(server, wrk_env, seconds)
        logins = password_logins(server, seconds)
    return SignInsAgainstLogins(signins, logins)


if __name__ == "__main__":
    from bench.run import TOLLGATE_ENV, b7_rows, table

    folder = Path(tempfile.mkdtemp(prefix="tollgate-bench-"))
    env = {**TOLLGATE_ENV, "TOLLGATE_DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'sso.db'}"}
    print(table(b7_rows(measure(env, int(os.environ.get("BENCH_SECONDS", "5"))))))
