"""Tollgate replicas on one PostgreSQL behind a real nginx, as README "Replicas" runs them.

The nginx configuration is examples/nginx/tollgate-replicas.conf with its sample
addresses replaced (the same file e2e/test_replicas.py runs). Each replica is one
`tollgate serve --workers N` process; together they have as many workers as the machine
has cores, as every other row's server does.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.nginx import example, running_nginx
from tests.support.postgres import PostgresServer

from bench.harness import CORES, Server, free_port, serve, tollgate

REPLICAS = 2


@dataclass
class Cluster:
    base: str  # nginx
    replicas: list[Server]

    def worker_pids(self) -> list[int]:
        return [pid for replica in self.replicas for pid in replica.worker_pids()]


@contextmanager
def replicas_behind_nginx(folder: Path, env: dict[str, str]) -> Iterator[Cluster]:
    """Two Tollgate servers (the example config names two) on one new PostgreSQL
    database, behind nginx.

    The rate limits are off in the benchmark (one address sends everything), so the
    replicas need no Redis: each worker's counters would never be read. Replicas start
    one after the other, so the first migrates the database and makes the signing key.
    """
    workers = max(1, CORES // REPLICAS)
    postgres = PostgresServer()
    postgres.start()
    try:
        shared = {
            **env,
            "TOLLGATE_DATABASE_URL": postgres.new_database(),
            "TOLLGATE_SECRET_KEY": secrets.token_urlsafe(32),
        }
        with ExitStack() as stack:
            servers = [
                stack.enter_context(serve(tollgate(workers), "/health", shared))
                for _ in range(REPLICAS)
            ]
            listen = f"127.0.0.1:{free_port()}"
            config = example(
                "tollgate-replicas.conf",
                {
                    "127.0.0.1:8000": listen,
                    "127.0.0.1:8001": servers[0].base.removeprefix("http://"),
                    "127.0.0.1:8002": servers[1].base.removeprefix("http://"),
                },
            )
            stack.enter_context(running_nginx(folder, config, listen))
            yield Cluster(f"http://{listen}", servers)
    finally:
        postgres.remove()
