"""CPU per request of the stateful rows (B4 refresh on SQLite, uncached B1), beside the
hellos they are divided by, in one run: r/s, p99, and the servers' and wrk's CPU time
per answered request (from /proc and getrusage), which a loaded machine disturbs far
less than r/s.

    .venv/bin/python -m bench.cpu_cost [refresh|auth|hello|all] [rounds]
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

from bench.harness import CORES, Server, WrkResult, serve, tollgate, uvicorn, wrk
from bench.run import SECONDS, refresh_tokens, sqlite_env, user_tokens

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> tuple[float, float]:
    """User and system CPU seconds of these processes (all their threads)."""
    user = system = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        user, system = user + int(fields[11]), system + int(fields[12])
    return user / TICK, system / TICK


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measured(server: Server, load: Callable[[], WrkResult], name: str) -> None:
    pids = server.worker_pids()
    server_before, wrk_before = cpu_seconds(pids), children_cpu()
    result = load()
    server_after = cpu_seconds(pids)
    user = server_after[0] - server_before[0]
    system = server_after[1] - server_before[1]
    wrk_cpu = children_cpu() - wrk_before
    print(
        f"{name:24} {result.rps:9,.0f} r/s  p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f}"
        f" ms  server {(user + system) / result.requests * 1e6:5.0f} µs/req"
        f" (sys {system / result.requests * 1e6:4.0f})"
        f"  wrk {wrk_cpu / result.requests * 1e6:5.0f} µs/req  failed {result.failed}",
        flush=True,
    )


@contextmanager
def tollgate_on(folder: Path, name: str, **extra: str) -> Iterator[Server]:
    workers = int(os.environ.get("BENCH_WORKERS", CORES))
    with serve(tollgate(workers), "/health", {**sqlite_env(folder, name), **extra}) as server:
        yield server


def main() -> None:
    which = sys.argv[1] if len(sys.argv) > 1 else "all"
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    folder = Path(tempfile.mkdtemp(prefix="tollgate-cpu-"))
    for _ in range(rounds):
        if which in ("hello", "all"):
            with serve(uvicorn("bench.apps.hello_fastapi:app"), "/hello") as fastapi:
                measured(fastapi, lambda: wrk(fastapi.base + "/hello", seconds=SECONDS), "fastapi")
            with serve(uvicorn("bench.apps.hello_asgi:app"), "/") as bare:
                measured(bare, lambda: wrk(bare.base + "/", seconds=SECONDS), "bare asgi")
        if which in ("refresh", "all"):
            with tollgate_on(folder, f"refresh-{os.getpid()}.db") as server:
                # The tokens first: the logins making them are not what is measured.
                connections = int(os.environ.get("BENCH_REFRESH_CONNECTIONS", 2 * CORES))
                tokens = str(refresh_tokens(server.base, 8 * connections, folder))
                measured(
                    server,
                    partial(
                        wrk,
                        server.base + "/refresh",
                        script="refresh.lua",
                        seconds=SECONDS,
                        connections=connections,
                        env={"BENCH_TOKENS_FILE": tokens},
                    ),
                    f"refresh sqlite, {connections} conn.",
                )
        if which in ("auth", "all"):
            with tollgate_on(
                folder, f"auth-{os.getpid()}.db", TOLLGATE_AUTH_CACHE_SECONDS="0"
            ) as server:
                many = str(user_tokens(server.base, 256, folder))
                measured(
                    server,
                    partial(
                        wrk,
                        server.base + "/auth",
                        script="bearer_many.lua",
                        seconds=SECONDS,
                        env={"BENCH_TOKENS_FILE": many},
                    ),
                    "auth uncached",
                )


if __name__ == "__main__":
    main()
