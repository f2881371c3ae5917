"""Replicas started at the same moment on a fresh PostgreSQL database migrate it once.

The test holds the migration advisory lock itself while two `tollgate serve` processes
start, waits until both are queued on that lock, then lets go: they reach the migration
at the same moment, which is the race the lock exists for.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import PASSWORD
from tests.e2e.server import TOLLGATE, free_port, stop, tollgate_env
from tests.support.postgres import PostgresServer
from tollgate.store.migrate import POSTGRES_MIGRATION_LOCK, head_revision


def wait_for(check: Callable[[], bool], what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"not reached in {seconds} s: {what}"
        time.sleep(0.1)


def healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/ready", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


@dataclass
class Started:
    replicas: list[tuple[str, subprocess.Popen[bytes], Path]]
    sql: Callable[[str], str]


@pytest.fixture(scope="module")
def started_together(
    tmp_path_factory: pytest.TempPathFactory, postgres: PostgresServer
) -> Iterator[Started]:
    """Two replicas released at the same moment on one fresh database, up and ready."""
    folder = tmp_path_factory.mktemp("together")
    url = postgres.new_database()
    name = url.rsplit("/", 1)[1]

    def sql(query: str) -> str:
        return postgres.psql(query, database=name).stdout.strip()

    with ExitStack() as stack:
        # Our own session takes the lock first and keeps it until we write to psql again.
        holder = subprocess.Popen(
            ["psql", "-h", "127.0.0.1", "-p", str(postgres.port), "-U", "postgres", "-d", name],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        )
        stack.callback(holder.wait, 30)
        stack.callback(holder.kill)
        assert holder.stdin is not None
        stack.callback(holder.stdin.close)
        holder.stdin.write(f"SELECT pg_advisory_lock({POSTGRES_MIGRATION_LOCK});\n")
        holder.stdin.flush()
        waiting = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        held = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
        wait_for(lambda: sql(held) == "1", "the test holds the migration lock")

        replicas = []
        for replica in ("a", "b"):
            port = free_port()
            log = folder / f"{replica}.log"
            out = stack.enter_context(log.open("w"))
            process = subprocess.Popen(
                [*TOLLGATE, "serve", "--port", str(port), "--log-level", "warning"],
                env=tollgate_env(folder / f"{replica}.db", database_url=url),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            stack.callback(stop, process)
            replicas.append((f"http://127.0.0.1:{port}", process, log))

        # Both replicas are queued on the lock: neither has touched the schema yet.
        wait_for(lambda: sql(waiting) == "2", "both replicas wait for the migration lock")
        assert sql("SELECT count(*) FROM pg_tables WHERE tablename = 'users'") == "0"
        holder.stdin.write(f"SELECT pg_advisory_unlock({POSTGRES_MIGRATION_LOCK});\n\\q\n")
        holder.stdin.flush()

        for base, process, log in replicas:
            wait_for(lambda b=base, p=process: p.poll() is not None or healthy(b), "ready")
            assert process.poll() is None, log.read_text()
        yield Started(replicas, sql)


def test_two_replicas_starting_together_migrate_once(started_together: Started) -> None:
    sql = started_together.sql
    assert sql("SELECT version_num FROM alembic_version") == head_revision()
    # One database, one service: sign up on one replica, log in on the other.
    (a, _, _), (b, _, _) = started_together.replicas
    joined = httpx.post(f"{a}/join", json={"username": "twin", "password": PASSWORD})
    assert joined.status_code == 201
    login = httpx.post(f"{b}/login", json={"username": "twin", "password": PASSWORD})
    assert login.status_code == 200
    for _, _, log in started_together.replicas:
        output = log.read_text()
        assert "Traceback" not in output, output
        assert "already exists" not in output, output
