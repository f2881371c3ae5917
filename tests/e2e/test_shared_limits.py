"""Two Tollgate processes share their brute-force counters through a real Redis."""

from __future__ import annotations

from pathlib import Path

import httpx
import redis

from tests.conftest import PASSWORD
from tests.e2e.redis_server import running_redis
from tests.e2e.server import running_server


def test_throttle_holds_across_processes(tmp_path: Path) -> None:
    database = tmp_path / "shared.db"
    with running_redis(tmp_path) as redis_url:
        settings = {
            "redis_url": redis_url,
            "rate_limit_login_failures_account_ip": "3/minute",
            "issuer": "http://auth.test",
        }
        with running_server(database, **settings) as a, running_server(database, **settings) as b:
            httpx.post(f"{a}/join", json={"username": "minsu", "password": PASSWORD})
            for _ in range(3):
                wrong = httpx.post(f"{a}/login", json={"username": "minsu", "password": "nope-1"})
                assert wrong.status_code == 401
            on_b = httpx.post(f"{b}/login", json={"username": "minsu", "password": PASSWORD})
            assert on_b.status_code == 429
            assert "retry-after" in on_b.headers


def test_redis_outage_is_a_503_not_a_free_pass(tmp_path: Path) -> None:
    database = tmp_path / "outage.db"
    with running_redis(tmp_path) as redis_url:
        with running_server(database, redis_url=redis_url) as base:
            httpx.post(f"{base}/join", json={"username": "minsu", "password": PASSWORD})
            redis.Redis.from_url(redis_url).shutdown(nosave=True)
            response = httpx.post(f"{base}/login", json={"username": "minsu", "password": PASSWORD})
            assert response.status_code == 503
            assert response.json()["error"] == "temporarily_unavailable"
