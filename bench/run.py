"""The benchmark: every number is a ratio of two things measured side by side, here.

    ./scripts/bench            (installs wrk and the reference stacks, then runs this)

Prints one table and rewrites bench/RESULTS.md with it.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.cluster import replicas_behind_nginx  # noqa: E402
from bench.dpop import gateway_load  # noqa: E402
from bench.dpop import measure_verify as measure_dpop_verify  # noqa: E402
from bench.feed_latency import measure as measure_feed_latency  # noqa: E402
from bench.harness import (  # noqa: E402
    CORES,
    WrkResult,
    peak_rss_mib,
    serve,
    tollgate,
    uvicorn,
    wrk,
)
from bench.micro_verify import measure as measure_verifier  # noqa: E402
from bench.oidc_signin import SignInsAgainstLogins  # noqa: E402
from bench.oidc_signin import measure as measure_sso_signins  # noqa: E402
from bench.seed import seed_users  # noqa: E402
from tollgate.services.passwords import PasswordHasher, normalize_password  # noqa: E402

SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
MILLION = int(os.environ.get("BENCH_USERS", "1000000"))
# Distinct users' tokens for the uncached B1/B2 rows (a gateway's view at scale).
MANY = int(os.environ.get("BENCH_TOKENS", "256"))
# How long a login may take under B3's flood of token checks before it counts as failed.
FLOOD_LOGIN_TIMEOUT = 10
FEED_LOGOUTS = int(os.environ.get("BENCH_FEED_LOGOUTS", "100"))
PASSWORD = "violet-harbor-kettle-42"
TOLLGATE_ENV = {
    "TOLLGATE_RATE_LIMIT_ENABLED": "false",  # one address sends everything here
    "TOLLGATE_ACCESS_TTL": "3600",
    "TOLLGATE_ISSUER": "http://bench.test",
}


@dataclass
class Row:
    name: str
    measured: str
    ratio: float | None
    target: str
    met: bool | None


def sqlite_env(folder: Path, name: str) -> dict[str, str]:
    return {**TOLLGATE_ENV, "TOLLGATE_DATABASE_URL": f"sqlite+aiosqlite:///{folder / name}"}


def access_token(base: str, username: str = "bench") -> dict[str, str]:
    httpx.post(f"{base}/join", json={"username": username, "password": PASSWORD}, timeout=30)
    response = httpx.post(
        f"{base}/login", json={"username": username, "password": PASSWORD}, timeout=30
    )
    response.raise_for_status()
    tokens: dict[str, str] = response.json()
    return tokens


def refresh_tokens(base: str, count: int, folder: Path) -> Path:
    """`count` fresh sessions' refresh tokens, one per line, for wrk/refresh.lua."""
    httpx.post(f"{base}/join", json={"username": "refresher", "password": PASSWORD})

    def login(_: int) -> str:
        return str(
            httpx.post(
                f"{base}/login", timeout=60, json={"username": "refresher", "password": PASSWORD}
            ).json()["refresh_token"]
        )

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        tokens = list(pool.map(login, range(count)))
    path = folder / f"refresh-{time.monotonic_ns()}.txt"
    path.write_text("\n".join(tokens) + "\n")
    return path


def user_tokens(base: str, count: int, folder: Path) -> Path:
    """Access tokens of `count` distinct users, one per line, for wrk/bearer_many.lua."""

    def join(i: int) -> str:
        response = httpx.post(
            f"{base}/join", timeout=60, json={"username": f"user-{i}", "password": PASSWORD}
        )
        response.raise_for_status()
        return str(response.json()["access_token"])

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        tokens = list(pool.map(join, range(count)))
    path = folder / f"access-{time.monotonic_ns()}.txt"
    path.write_text("\n".join(tokens) + "\n")
    return path


def flask_tokens(base: str, count: int, folder: Path) -> Path:
    """`count` distinct flask-jwt-extended tokens (each has its own jti)."""
    tokens = [httpx.post(f"{base}/token").json()["access_token"] for _ in range(count)]
    path = folder / f"flask-{time.monotonic_ns()}.txt"
    path.write_text("\n".join(tokens) + "\n")
    return path


def refresh_load(base: str, connections: int, folder: Path) -> WrkResult:
    """Refreshes as fast as they come, each with an unused token (wrk/refresh.lua)."""
    tokens_file = refresh_tokens(base, 8 * connections, folder)
    return wrk(
        base + "/refresh",
        script="refresh.lua",
        seconds=SECONDS,
        connections=connections,
        env={"BENCH_TOKENS_FILE": str(tokens_file)},
    )


def hash_seconds() -> float:
    hasher = PasswordHasher()._argon2
    password = normalize_password(PASSWORD)
    hasher.hash(password)
    samples = []
    for _ in range(8):
        started = time.perf_counter()
        hasher.hash(password)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def parallel_hash_rate(seconds: float = 3.0) -> float:
    """Hashes a second with one thread per core hashing at once (argon2-cffi releases the
    GIL), no server at all: what the bound's cores ÷ one hash becomes when every core
    hashes and they share the memory bus and caches."""
    hasher = PasswordHasher()._argon2
    password = normalize_password(PASSWORD)
    counts = [0] * CORES
    started = time.perf_counter()
    deadline = started + seconds

    def work(index: int) -> None:
        while time.perf_counter() < deadline:
            hasher.hash(password)
            counts[index] += 1

    threads = [threading.Thread(target=work, args=(i,)) for i in range(CORES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.perf_counter() - started)


def row(
    name: str,
    measured: str,
    ratio: float | None,
    target: float | None,
    *,
    loads: Sequence[WrkResult] = (),
    at_most: bool = False,
) -> Row:
    """One line of the table. Any failed answer in its loads fails it, whatever the ratio:
    error answers are not throughput."""
    failed = sum(load.failed for load in loads)
    if loads:
        measured += f" ({failed:,} failed)"
    if ratio is None or target is None:
        return Row(name, measured, ratio, "—", False if failed else None)
    met = ratio <= target if at_most else ratio >= target
    return Row(name, measured, ratio, f"{'≤' if at_most else '≥'} {target:g}", met and not failed)


def b4_row(name: str, refresh: WrkResult, hello: WrkResult, target: float | None) -> Row:
    """A B4 row: a refresh load against the FastAPI hello of the same run."""
    return row(
        name,
        f"{refresh.rps:,.0f} ÷ {hello.rps:,.0f} r/s",
        refresh.rps / hello.rps,
        target,
        loads=[refresh, hello],
    )


def b7_rows(result: SignInsAgainstLogins) -> list[Row]:
    """B7: the sign-in rate against the login rate (the target), and the server's CPU
    per operation the other way round (steadier on a busy machine; no target)."""
    signins, logins = result.signins, result.logins
    return [
        row(
            "B7 sign-in of a logged-in user (authorize → code → token) ÷ POST /login",
            f"{signins.per_second:,.1f} ÷ {logins.per_second:,.1f} per s",
            signins.per_second / logins.per_second,
            10,
            loads=[signins.load, logins.load],
        ),
        row(
            "B7 server CPU per POST /login ÷ per sign-in of a logged-in user",
            f"{logins.cpu_per_operation * 1000:,.2f} ÷ {signins.cpu_per_operation * 1000:,.2f} ms",
            logins.cpu_per_operation / signins.cpu_per_operation,
            None,
        ),
    ]


def main() -> list[Row]:
    rows: list[Row] = []
    folder = Path(tempfile.mkdtemp(prefix="tollgate-bench-"))

    # B5 first, in-process, while the machine is otherwise idle.
    verify = measure_verifier()
    dpop_verify = measure_dpop_verify()

    wrk_auth = {"script": "bearer.lua", "seconds": SECONDS}

    # B1, B2, B3 (idle and under a login flood): one Tollgate on SQLite.
    with serve(uvicorn("bench.apps.hello_asgi:app"), "/") as hello:
        bare = wrk(hello.base + "/", seconds=SECONDS)
    with serve(tollgate(), "/health", sqlite_env(folder, "main.db")) as server:
        tokens = access_token(server.base)
        auth = wrk(server.base + "/auth", env={"BENCH_TOKEN": tokens["access_token"]}, **wrk_auth)
        rows.append(
            row(
                "B1 GET /auth ÷ bare ASGI hello (uvicorn, same workers)",
                f"{auth.rps:,.0f} ÷ {bare.rps:,.0f} r/s",
                auth.rps / bare.rps,
                0.6,
                loads=[auth, bare],
            )
        )

        t_hash = hash_seconds()
        bound = CORES / t_hash
        login_body = f'{{"username":"bench","password":"{PASSWORD}"}}'
        logins = wrk(
            server.base + "/login",
            script="post_json.lua",
            seconds=SECONDS + 3,
            connections=4 * CORES,
            env={"BENCH_BODY": login_body},
        )
        rows.append(
            row(
                "B3 POST /login ÷ argon2 bound (cores ÷ one hash)",
                f"{logins.rps:,.1f} ÷ {bound:,.1f} r/s (hash {t_hash * 1000:.1f} ms,"
                f" {CORES} cores)",
                logins.rps / bound,
                0.9,
                loads=[logins],
            )
        )

        # The ceiling for the row above with no server: argon2 alone on every core.
        parallel = parallel_hash_rate()
        rows.append(
            row(
                f"B3 argon2 alone, {CORES} hashes at once ÷ argon2 bound",
                f"{parallel:,.1f} ÷ {bound:,.1f} r/s",
                parallel / bound,
                None,
            )
        )

        flood: dict[str, object] = {}
        flooder = threading.Thread(
            target=lambda: flood.update(
                result=wrk(
                    server.base + "/login",
                    script="post_json.lua",
                    seconds=SECONDS + 2,
                    connections=4 * CORES,
                    env={"BENCH_BODY": login_body},
                    # The hashing threads are niced so that token checks keep the CPU:
                    # during this flood a login waits its turn for seconds, by design.
                    timeout=FLOOD_LOGIN_TIMEOUT,
                )
            )
        )
        flooder.start()
        time.sleep(1)
        busy = wrk(server.base + "/auth", env={"BENCH_TOKEN": tokens["access_token"]}, **wrk_auth)
        flooder.join()
        flooded = flood["result"]
        assert isinstance(flooded, WrkResult)
        rows.append(
            row(
                "B3 GET /auth during a login flood ÷ idle",
                f"{busy.rps:,.0f} ÷ {auth.rps:,.0f} r/s (logins meanwhile {flooded.rps:,.1f} r/s,"
                f" p99 {flooded.p99_ms / 1000:.1f} s)",
                busy.rps / auth.rps,
                0.5,
                loads=[busy, flooded],
            )
        )

    # B8 (issue 15): DPoP-bound tokens. At GET /auth every request brings a new proof
    # (verified, and remembered once in Redis); in tollgate.verify, two signatures.
    bound = gateway_load(folder, sqlite_env(folder, "dpop.db"), SECONDS, PASSWORD)
    rows.append(
        row(
            "B8 GET /auth, DPoP-bound token, a new proof each ÷ bare ASGI hello",
            f"{bound.rps:,.0f} ÷ {bare.rps:,.0f} r/s",
            bound.rps / bare.rps,
            0.4,
            loads=[bound, bare],
        )
    )
    rows.append(
        row(
            "B8 tollgate.verify uncached DPoP check ÷ bare ECDSA verify",
            f"{dpop_verify['dpop_us']:.1f} ÷ {dpop_verify['bare_us']:.1f} µs",
            dpop_verify["dpop_us"] / dpop_verify["bare_us"],
            2.5,
            at_most=True,
        )
    )

    # B7 (issue 14): another app signs in a user already logged in to Tollgate in the
    # browser (authorize with the SSO cookie -> code -> token exchange), against password
    # logins of the same user on the same server, one load after the other.
    rows.extend(b7_rows(measure_sso_signins(sqlite_env(folder, "sso.db"), SECONDS + 3)))

    # B1 and B2 at scale: many users' tokens, each check verified in full (cache off):
    # the signature, and the session read from the database.
    uncached_env = {**sqlite_env(folder, "uncached.db"), "TOLLGATE_AUTH_CACHE_SECONDS": "0"}
    with serve(tollgate(), "/health", uncached_env) as server:
        many = user_tokens(server.base, MANY, folder)
        uncached = wrk(
            server.base + "/auth",
            script="bearer_many.lua",
            seconds=SECONDS,
            env={"BENCH_TOKENS_FILE": str(many)},
        )

    with serve(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            str(CORES),
            "-b",
            "127.0.0.1:{port}",
            "--log-level",
            "warning",
            "bench.apps.flask_jwt:app",
        ],
        "/auth",
    ) as flask:
        flask_token = httpx.post(flask.base + "/token").json()["access_token"]
        reference = wrk(flask.base + "/auth", env={"BENCH_TOKEN": flask_token}, **wrk_auth)
        flask_many = wrk(
            flask.base + "/auth",
            script="bearer_many.lua",
            seconds=SECONDS,
            env={"BENCH_TOKENS_FILE": str(flask_tokens(flask.base, MANY, folder))},
        )
    rows[1:1] = [
        row(
            f"B1 GET /auth, {MANY} users' tokens, cache off ÷ bare ASGI hello",
            f"{uncached.rps:,.0f} ÷ {bare.rps:,.0f} r/s",
            uncached.rps / bare.rps,
            None,
            loads=[uncached, bare],
        ),
        row(
            "B2 GET /auth ÷ Flask + flask-jwt-extended (gunicorn, same workers)",
            f"{auth.rps:,.0f} ÷ {reference.rps:,.0f} r/s",
            auth.rps / reference.rps,
            4,
            loads=[auth, reference],
        ),
        row(
            f"B2 GET /auth, {MANY} users' tokens, cache off ÷ Flask, {MANY} tokens",
            f"{uncached.rps:,.0f} ÷ {flask_many.rps:,.0f} r/s",
            uncached.rps / flask_many.rps,
            None,
            loads=[uncached, flask_many],
        ),
    ]

    # B4: refresh on SQLite and on PostgreSQL against a FastAPI hello-world.
    with serve(uvicorn("bench.apps.hello_fastapi:app"), "/hello") as fastapi:
        hello_fastapi = wrk(fastapi.base + "/hello", seconds=SECONDS)
    refresh_connections = 2 * CORES
    with serve(tollgate(), "/health", sqlite_env(folder, "refresh.db")) as server:
        sqlite_refresh = refresh_load(server.base, refresh_connections, folder)
    rows.append(
        b4_row("B4 POST /refresh (SQLite) ÷ FastAPI hello", sqlite_refresh, hello_fastapi, 0.25)
    )
    from tests.support.postgres import PostgresServer

    postgres = PostgresServer()
    postgres.start()
    try:
        env = {**TOLLGATE_ENV, "TOLLGATE_DATABASE_URL": postgres.new_database()}
        with serve(tollgate(), "/health", env) as server:
            pg_refresh = refresh_load(server.base, refresh_connections, folder)
    finally:
        postgres.remove()
    # the PostgreSQL target is for replicas behind nginx (next row)
    rows.append(
        b4_row("B4 POST /refresh (PostgreSQL) ÷ FastAPI hello", pg_refresh, hello_fastapi, None)
    )
    # The same, as README "Replicas" deploys it: two `tollgate serve` on one PostgreSQL
    # (workers split between them), nginx in front; wrk talks to nginx.
    with replicas_behind_nginx(folder, TOLLGATE_ENV) as cluster:
        replicas_refresh = refresh_load(cluster.base, refresh_connections, folder)
    rows.append(
        b4_row(
            "B4 POST /refresh (PostgreSQL, two replicas behind nginx) ÷ FastAPI hello",
            replicas_refresh,
            hello_fastapi,
            0.2,
        )
    )

    rows.append(
        row(
            "B5 tollgate.verify cached check (µs)",
            f"{verify['cached_us']:.2f} µs",
            verify["cached_us"],
            5,
            at_most=True,
        )
    )
    rows.append(
        row(
            "B5 uncached check ÷ bare cryptography ECDSA verify",
            f"{verify['uncached_us']:.1f} ÷ {verify['bare_us']:.1f} µs",
            verify["uncached_us"] / verify["bare_us"],
            1.3,
            at_most=True,
        )
    )

    # B6: a million users; memory and latency under load.
    database = folder / "million.db"
    subprocess.run(
        [sys.executable, "-m", "tollgate", "migrate"],
        check=True,
        cwd=ROOT,
        env={**os.environ, **sqlite_env(folder, "million.db")},
        capture_output=True,
    )
    started = time.perf_counter()
    seed_users(database, MILLION, PASSWORD)
    seeded_in = time.perf_counter() - started
    with serve(tollgate(), "/health", sqlite_env(folder, "million.db")) as server:
        login = wrk(
            server.base + "/login",
            script="login_random.lua",
            seconds=SECONDS,
            connections=CORES,
            env={"BENCH_USERS": str(MILLION), "BENCH_PASSWORD": PASSWORD},
        )
        refresh = refresh_load(server.base, refresh_connections, folder)
        token = access_token(server.base, "checker")["access_token"]
        checks = wrk(server.base + "/auth", env={"BENCH_TOKEN": token}, **wrk_auth)
        rss = peak_rss_mib(server.worker_pids())
    rows.append(
        row(
            f"B6 {MILLION:,} users (seeded in {seeded_in:.0f} s): peak RSS per worker"
            " after logins, refreshes and token checks",
            ", ".join(f"{mib:.0f} MiB" for mib in rss),
            None,
            None,
            loads=[checks],
        )
    )
    rows.append(
        row(
            "B6 login latency p50 / p99 (random users, one request per core)",
            f"{login.p50_ms:.0f} / {login.p99_ms:.0f} ms ({login.rps:.0f} r/s)",
            None,
            None,
            loads=[login],
        )
    )
    rows.append(
        row(
            f"B6 refresh latency p50 / p99 ({refresh_connections} connections)",
            f"{refresh.p50_ms:.1f} / {refresh.p99_ms:.1f} ms ({refresh.rps:.0f} r/s)",
            None,
            None,
            loads=[refresh],
        )
    )

    # B9: a logout reaches a service verifying tokens on its own (issue 16).
    feed = measure_feed_latency(FEED_LOGOUTS)
    rows.append(
        row(
            f"B9 logout to refusal at a verifier following the feed (poll every 2 s),"
            f" p50 / p99 over {FEED_LOGOUTS} logouts (s)",
            f"{feed['p50']:.2f} / {feed['p99']:.2f} s (max {feed['max']:.2f} s)",
            feed["p99"],
            3,
            at_most=True,
        )
    )
    return rows


def table(rows: list[Row]) -> str:
    lines = ["| measure | raw numbers | ratio | target | met |", "|---|---|---|---|---|"]
    for r in rows:
        ratio = "—" if r.ratio is None else f"{r.ratio:.2f}"
        met = "—" if r.met is None else ("yes" if r.met else "**no**")
        lines.append(f"| {r.name} | {r.measured} | {ratio} | {r.target} | {met} |")
    return "\n".join(lines)


def source_version() -> str:
    """The commit the run measured, and whether the working tree differed from it."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown commit"
    changed = [
        line
        for line in git("status", "--porcelain").splitlines()
        if not line.endswith(("bench/RESULTS.md", "bench/RUNS.md"))
    ]
    return f"commit {commit}" + (", with uncommitted changes" if changed else "")


def write_results(text: str, seconds: float) -> None:
    """RESULTS.md: this run alone. RUNS.md: every run, appended, for NOTES.md to cite."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    run = f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC"
    setting = (
        f"Command: `./scripts/bench` — run {run} ({source_version()}) in {seconds:.0f} s on"
        f" {CORES} cores ({cpu}), Python {platform.python_version()}, {SECONDS} s per load"
        f" run, workers = cores, wrk on the same machine. A row with any failed answer (not"
        f" 2xx, or a socket error) fails."
    )
    (ROOT / "bench" / "RESULTS.md").write_text(
        "\n".join(
            [
                "# Benchmark results",
                "",
                "Written by `./scripts/bench`: only the numbers of its last run.",
                "What the numbers mean, what moved them and why targets are missed:"
                " [NOTES.md](NOTES.md); every run's table: [RUNS.md](RUNS.md).",
                "",
                setting,
                "",
                text,
                "",
            ]
        )
    )
    runs = ROOT / "bench" / "RUNS.md"
    with runs.open("a") as log:
        log.write(f"\n## Run {run}\n\n{setting}\n\n{text}\n")


if __name__ == "__main__":
    began = time.perf_counter()
    measured = main()
    rendered = table(measured)
    print(rendered)
    write_results(rendered, time.perf_counter() - began)
