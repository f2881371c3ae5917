"""`tollgate serve --workers N` tells its workers how many they are, so the argon2
threads of all of them together are one per core (services/passwords.py)."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.e2e.server import tollgate_process


def test_workers_are_told_how_many_share_the_cores(tmp_path: Path) -> None:
    with tollgate_process(tmp_path / "two.db", "--workers", "2", rate_limit_enabled="false") as (
        base,
        process,
    ):
        assert httpx.get(f"{base}/health").status_code == 200
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
        environments = [Path(f"/proc/{pid}/environ").read_bytes().split(b"\0") for pid in children]
        workers = [env for env in environments if any(v.startswith(b"TOLLGATE_") for v in env)]
        assert len(workers) >= 2
        for env in workers:
            assert b"WEB_CONCURRENCY=2" in env
