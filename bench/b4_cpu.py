"""B4 side by side, repeated, with the CPU each request cost (for a loaded machine).

    .venv/bin/python -m bench.b4_cpu [rounds]     # needs wrk, nginx and postgresql

Each round measures, one after the other: the FastAPI hello, POST /refresh on one
Tollgate on PostgreSQL, and on two replicas behind nginx. For each load it prints the
rate, its ratio to the hello of the same round, and CPU per request: of everything
serving it (the servers' workers, nginx, PostgreSQL: all processes this one started,
wrk excluded) and of wrk itself. CPU per request does not depend on what else the
machine runs, the rate does. `B4_CONNECTIONS` (twice the cores, as in ./scripts/bench) sets
wrk's connections for the refresh loads.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from tests.support.postgres import PostgresServer

from bench.cluster import replicas_behind_nginx
from bench.harness import (
    CORES,
    WrkResult,
    children_cpu_seconds,
    serve,
    tollgate,
    tree_cpu_seconds,
    uvicorn,
    wrk,
)
from bench.run import SECONDS, TOLLGATE_ENV, refresh_tokens

OWN_NAME = Path(f"/proc/{os.getpid()}/stat").read_text().split(" (", 1)[1].split(")")[0]


def serving_cpu() -> dict[str, float]:
    """CPU of every process this one started (servers, nginx, PostgreSQL), by name."""
    totals = tree_cpu_seconds(os.getpid())
    own = os.times()
    totals[OWN_NAME] -= own.user + own.system + children_cpu_seconds()
    return totals


def measured(load: Callable[[], WrkResult]) -> tuple[WrkResult, dict[str, float], float]:
    """The load, its serving CPU per request by process name and wrk's, in µs."""
    before, driver = serving_cpu(), children_cpu_seconds()
    result = load()
    driver = children_cpu_seconds() - driver
    after = serving_cpu()
    per_request = {
        name: (spent - before.get(name, 0.0)) / result.requests * 1e6
        for name, spent in after.items()
    }
    return result, per_request, driver / result.requests * 1e6


def refresh(base: str, folder: Path) -> tuple[WrkResult, float, float]:
    connections = int(os.environ.get("B4_CONNECTIONS", 2 * CORES))
    tokens = refresh_tokens(base, 8 * connections, folder)
    return measured(
        lambda: wrk(
            base + "/refresh",
            script="refresh.lua",
            seconds=SECONDS,
            connections=connections,
            env={"BENCH_TOKENS_FILE": str(tokens)},
        )
    )


def one_round(folder: Path) -> None:
    with serve(uvicorn("bench.apps.hello_fastapi:app"), "/hello") as fastapi:
        hello = measured(lambda: wrk(fastapi.base + "/hello", seconds=SECONDS))
    postgres = PostgresServer()
    postgres.start()
    try:
        env = {**TOLLGATE_ENV, "TOLLGATE_DATABASE_URL": postgres.new_database()}
        with serve(tollgate(), "/health", env) as server:
            single = refresh(server.base, folder)
    finally:
        postgres.remove()
    with replicas_behind_nginx(folder, TOLLGATE_ENV) as cluster:
        replicas = refresh(cluster.base, folder)
    for name, (result, serving, driver) in [
        ("FastAPI hello", hello),
        ("refresh, PostgreSQL", single),
        ("refresh, 2 replicas + nginx", replicas),
    ]:
        parts = ", ".join(f"{k} {v:.0f}" for k, v in sorted(serving.items()) if v >= 1)
        print(
            f"{name:28} {result.rps:7,.0f} r/s  ratio {result.rps / hello[0].rps:5.3f}"
            f"  serving {sum(serving.values()):5.0f} µs/req ({parts})  wrk {driver:3.0f} µs/req"
            f"  failed {result.failed}",
            flush=True,
        )


if __name__ == "__main__":
    folder = Path(tempfile.mkdtemp(prefix="tollgate-b4-"))
    for number in range(int(sys.argv[1]) if len(sys.argv) > 1 else 3):
        print(f"round {number + 1}", flush=True)
        one_round(folder)
