"""Operations on real processes: metrics over workers, JSON logs, graceful shutdown."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

import httpx

from tests.conftest import PASSWORD
from tests.e2e.server import tollgate_process


def test_metrics_add_up_over_workers(tmp_path: Path) -> None:
    database = tmp_path / "w.db"
    with tollgate_process(database, "--workers", "2", rate_limit_enabled="false") as (base, _):
        httpx.post(f"{base}/join", json={"username": "minsu", "password": PASSWORD})
        for _ in range(8):  # fresh connections, spread over both workers
            assert (
                httpx.post(
                    f"{base}/login", json={"username": "minsu", "password": PASSWORD}
                ).status_code
                == 200
            )
        for _ in range(3):
            text = httpx.get(f"{base}/metrics").text
            assert 'tollgate_events_total{event="login_succeeded"} 8.0' in text
            assert 'route="/login",status="200"} 8.0' in text


def test_json_logs_carry_request_ids(tmp_path: Path) -> None:
    database = tmp_path / "logs.db"
    with tollgate_process(database) as (base, _):
        port = base.rsplit(":", 1)[1]
        httpx.post(
            f"{base}/join",
            json={"username": "minsu", "password": PASSWORD},
            headers={"X-Request-ID": "trace-42"},
        )
        httpx.get(f"{base}/nowhere")
    lines = [
        json.loads(line)
        for line in database.with_suffix(f".{port}.log").read_text().splitlines()
        if line.startswith("{")
    ]
    access = [line for line in lines if "route" in line]
    join = next(line for line in access if line["path"] == "/join")
    assert join["request_id"] == "trace-42"
    assert join["status"] == 201
    assert join["route"] == "/join"
    assert isinstance(join["duration_ms"], float)
    audit = next(line for line in lines if line.get("event") == "joined")
    assert audit["request_id"] == "trace-42"
    missing = next(line for line in access if line["path"] == "/nowhere")
    assert missing["status"] == 404
    assert len(missing["request_id"]) == 32


def test_graceful_shutdown_finishes_in_flight_requests(tmp_path: Path) -> None:
    database = tmp_path / "drain.db"
    count = 16
    with tollgate_process(database, rate_limit_enabled="false") as (base, process):
        httpx.post(f"{base}/join", json={"username": "minsu", "password": PASSWORD})
        clients = [httpx.Client(base_url=base, timeout=30) for _ in range(count)]
        for client in clients:  # open every connection before the test starts
            client.get("/health")
        start = threading.Barrier(count + 1)
        results: list[int] = []
        errors: list[Exception] = []
        finished: list[float] = []

        def login(client: httpx.Client) -> None:
            start.wait()
            try:
                # Each login hashes for tens of ms on two cores: most are still queued or
                # running when SIGTERM arrives.
                response = client.post("/login", json={"username": "minsu", "password": PASSWORD})
                results.append(response.status_code)
                finished.append(time.monotonic())
            except httpx.HTTPError as exc:
                errors.append(exc)

        threads = [threading.Thread(target=login, args=(c,)) for c in clients]
        for thread in threads:
            thread.start()
        start.wait()
        time.sleep(0.1)
        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        for thread in threads:
            thread.join()
        process.wait(timeout=30)
        for client in clients:
            client.close()
        # uvicorn re-raises the signal once it has drained: killed by SIGTERM, cleanly.
        assert process.returncode in (0, -signal.SIGTERM)
    assert errors == []
    assert results == [200] * count
    assert max(finished) > signalled, "no request was still in flight at SIGTERM"


def test_head_over_real_http(tmp_path: Path) -> None:
    """uvicorn checks a HEAD answer against its Content-Length; in-process tests cannot."""
    with tollgate_process(tmp_path / "head.db") as (base, _), httpx.Client(base_url=base) as http:
        token = http.post("/join", json={"username": "minsu", "password": PASSWORD}).json()
        auth = {"Authorization": f"Bearer {token['access_token']}"}
        for path, headers, status in [
            ("/health", {}, 200),
            ("/", {}, 200),
            ("/.well-known/jwks.json", {}, 200),
            ("/docs", {}, 200),
            ("/favicon.ico", {}, 200),
            ("/me", {}, 401),
            ("/me", auth, 200),
            ("/auth", auth, 200),
            ("/auth", auth, 200),  # the cached token, on the lean path
        ]:
            get = http.get(path, headers=headers)
            head = http.head(path, headers=headers)
            assert (get.status_code, head.status_code) == (status, status), path
            assert head.content == b""
            assert head.headers.get("content-length") == get.headers.get("content-length")
    # tollgate_process asserted at exit that the server logged no traceback.
