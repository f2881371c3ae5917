"""B9: how long a logout takes to reach a service verifying tokens on its own.

A real `tollgate serve` (workers = cores) and, in this process, `tollgate.verify` with a
`RevocationFeed` as a service would run it (default: a poll every 2 s). Each of N logouts
is timed from the logout's answer to the first refusal of that session's still unexpired
access token by the verifier; the p99 is the row (issue 16's target: ≤ 3 s). Each logout
comes at a random moment of the poll cycle, so 100 logouts take about 3-4 minutes.

    python bench/feed_latency.py [--logouts 100] [--long-poll]
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.harness import CORES, free_port  # noqa: E402
from tollgate.verify import InvalidToken, RevocationFeed, Verifier  # noqa: E402

PASSWORD = "violet-harbor-kettle-42"
GIVE_UP_SECONDS = 30.0


@contextmanager
def tollgate_at(folder: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A server whose issuer is its own address (the feed's endpoints hang off it)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "TOLLGATE_DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'feed.db'}",
        "TOLLGATE_ISSUER": base,
        "TOLLGATE_RATE_LIMIT_ENABLED": "false",
        "TOLLGATE_ACCESS_TTL": "3600",
    }
    command = [sys.executable, "-m", "tollgate", "serve", "--port", str(port)]
    command += ["--workers", str(CORES), "--log-level", "warning"]
    with (folder / "server.log").open("w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((folder / "server.log").read_text())
            time.sleep(0.1)
        yield base, env
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=40)  # a verifier's long poll may still be open
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def measure(logouts: int = 100, *, long_poll: bool = False) -> dict[str, float]:
    """Seconds from logout to refusal: p50, p99 and max over `logouts` logouts."""
    folder = Path(tempfile.mkdtemp(prefix="tollgate-feed-bench-"))
    with tollgate_at(folder) as (base, env), httpx.Client(base_url=base, timeout=30) as http:
        created = subprocess.run(
            [sys.executable, "-m", "tollgate", "clients", "create", "bench-service"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        values = dict(line.split("=", 1) for line in created.stdout.split())
        feed = RevocationFeed(values["client_id"], values["client_secret"], long_poll=long_poll)
        verifier = Verifier(base, revocation_feed=feed)
        try:
            http.post("/join", json={"username": "feed", "password": PASSWORD})
            deadline = time.monotonic() + GIVE_UP_SECONDS
            while feed.stream_id is None and time.monotonic() < deadline:
                time.sleep(0.05)
            latencies = []
            for _ in range(logouts):
                tokens = http.post("/login", json={"username": "feed", "password": PASSWORD}).json()
                token = tokens["access_token"]
                verifier.verify(token)  # valid, and its verdict cached, as in a service
                # Logouts come at any moment of the verifier's poll cycle, not right after
                # its last poll (which the previous refusal would make them).
                time.sleep(random.uniform(0, feed.poll_interval))
                answer = http.post("/logout", headers={"Authorization": f"Bearer {token}"})
                assert answer.status_code == 204, answer.text
                ended = time.perf_counter()
                while True:
                    try:
                        verifier.verify(token)
                    except InvalidToken:
                        break
                    if time.perf_counter() - ended > GIVE_UP_SECONDS:
                        raise RuntimeError("a logout never reached the verifier")
                    time.sleep(0.005)
                latencies.append(time.perf_counter() - ended)
        finally:
            feed.stop()
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return {
        "p50": statistics.median(latencies),
        "p99": cuts[98],
        "max": max(latencies),
        "count": float(len(latencies)),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--logouts", type=int, default=100)
    parser.add_argument("--long-poll", action="store_true")
    arguments = parser.parse_args()
    result = measure(arguments.logouts, long_poll=arguments.long_poll)
    print(
        f"logout to refusal over {result['count']:.0f} logouts: p50 {result['p50']:.2f} s, "
        f"p99 {result['p99']:.2f} s, max {result['max']:.2f} s"
    )
