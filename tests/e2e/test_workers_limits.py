"""Several workers of one server count brute-force failures together, or do not start.

In-memory counters are per process: with `--workers 2` and no Redis, 14 wrong passwords
used to get nine 401s before the first 429 (five with one worker).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx

from tests.conftest import PASSWORD
from tests.e2e.redis_server import running_redis
from tests.e2e.server import TOLLGATE, free_port, running_server, tollgate_env


def test_workers_without_redis_refuse_to_start(tmp_path: Path) -> None:
    result = subprocess.run(
        [*TOLLGATE, "serve", "--port", str(free_port()), "--workers", "2"],
        env=tollgate_env(tmp_path / "refused.db"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "--workers 2 needs TOLLGATE_REDIS_URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_one_worker_needs_no_redis(tmp_path: Path) -> None:
    with running_server(tmp_path / "one.db", "--workers", "1") as base:
        assert httpx.get(f"{base}/health").status_code == 200


def test_two_workers_share_the_failure_count(tmp_path: Path) -> None:
    # The default per account and address: 5 a minute. Every try on a new connection, so
    # the tries land on both workers.
    with (
        running_redis(tmp_path) as redis_url,
        running_server(tmp_path / "two.db", "--workers", "2", redis_url=redis_url) as base,
    ):
        joined = httpx.post(f"{base}/join", json={"username": "minsu", "password": PASSWORD})
        assert joined.status_code == 201
        answers = []
        for attempt in range(14):
            with httpx.Client(base_url=base) as fresh:
                wrong = {"username": "minsu", "password": f"wrong-guess-{attempt}"}
                answers.append(fresh.post("/login", json=wrong).status_code)
        assert answers == [401] * 5 + [429] * 9
