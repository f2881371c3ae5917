"""Operations on real processes: metrics over workers, JSON logs, graceful shutdown."""

from __future__ import annotations

import asyncio
import http.client
import json
import select
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.multiprocess import MultiProcessCollector

from tests.conftest import PASSWORD
from tests.e2e.server import TOLLGATE, free_port, stop, tollgate_env, tollgate_process


def logins_per_worker(metrics_dir: Path) -> dict[str, float]:
    """Successful logins each worker process counted, from its own metrics file."""
    counts: dict[str, float] = {}
    for file in metrics_dir.glob("counter_*.db"):
        pid = file.stem.rsplit("_", 1)[1]
        for metric in MultiProcessCollector.merge([str(file)]):  # type: ignore[no-untyped-call]
            for sample in metric.samples:
                if sample.name == "tollgate_events_total" and sample.labels == LOGGED_IN:
                    counts[pid] = counts.get(pid, 0) + sample.value
    return counts


LOGGED_IN = {"event": "login_succeeded"}


def test_metrics_add_up_over_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `serve --workers` pools its workers' metrics in a fresh folder under TMPDIR: here,
    # so the test can read each worker's own counts.
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    database = tmp_path / "w.db"
    with tollgate_process(database, "--workers", "2", rate_limit_enabled="false") as (base, _):
        (metrics_dir,) = tmp_path.glob("tollgate-metrics-*")
        httpx.post(f"{base}/join", json={"username": "minsu", "password": PASSWORD})

        async def burst() -> list[int]:
            # Eight logins at once, each on its own connection, so both workers get some.
            async def one() -> int:
                async with httpx.AsyncClient(base_url=base, timeout=30) as http:
                    response = await http.post(
                        "/login", json={"username": "minsu", "password": PASSWORD}
                    )
                    return response.status_code

            return await asyncio.gather(*(one() for _ in range(8)))

        sent = 0
        deadline = time.monotonic() + 60
        while len(logins_per_worker(metrics_dir)) < 2:  # until both workers served logins
            assert time.monotonic() < deadline, logins_per_worker(metrics_dir)
            assert asyncio.run(burst()) == [200] * 8
            sent += 8
        per_worker = logins_per_worker(metrics_dir)
        assert sum(per_worker.values()) == sent
        assert all(0 < count < sent for count in per_worker.values()), per_worker
        for _ in range(3):  # whichever worker answers the scrape, it reports the sum
            text = httpx.get(f"{base}/metrics").text
            assert f'tollgate_events_total{{event="login_succeeded"}} {float(sent)}' in text
            assert f'route="/login",status="200"}} {float(sent)}' in text


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


def connect(base: str) -> http.client.HTTPConnection:
    """A kept-alive connection, opened (and used once) before the test starts."""
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    connection.request("GET", "/health")
    assert connection.getresponse().read()
    return connection


def all_read_by_the_server(base: str) -> None:
    """Return once the server has read every request sent before this call.

    The server is one process with one event loop: it answers this later request only
    after a loop turn in which every socket already holding a request was read too. The
    route answers from memory, so it never waits behind the requests in flight.
    """
    assert httpx.get(f"{base}/.well-known/jwks.json", timeout=60).status_code == 200


def answered(connections: list[http.client.HTTPConnection]) -> int:
    """How many of the connections have an answer waiting to be read."""
    ready, _, _ = select.select([c.sock for c in connections], [], [], 0)
    return len(ready)


def test_graceful_shutdown_finishes_in_flight_requests(tmp_path: Path) -> None:
    database = tmp_path / "drain.db"
    count = 16
    with tollgate_process(database, rate_limit_enabled="false") as (base, process):
        httpx.post(f"{base}/join", json={"username": "minsu", "password": PASSWORD})
        connections = [connect(base) for _ in range(count)]
        body = json.dumps({"username": "minsu", "password": PASSWORD})
        for connection in connections:  # sent in full, one after the other
            connection.request(
                "POST", "/login", body=body, headers={"Content-Type": "application/json"}
            )
        all_read_by_the_server(base)
        process.send_signal(signal.SIGTERM)
        # Each login hashes for tens of ms on two cores: most are still running now.
        finished_before = answered(connections)
        statuses = [c.getresponse().status for c in connections]
        process.wait(timeout=60)
        for connection in connections:
            connection.close()
        # uvicorn re-raises the signal once it has drained: killed by SIGTERM, cleanly.
        assert process.returncode in (0, -signal.SIGTERM)
    assert statuses == [200] * count
    assert finished_before < count, "no request was still in flight at SIGTERM"


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


def test_graceful_timeout_bounds_the_wait(tmp_path: Path) -> None:
    """`--graceful-timeout 2`: a request that never completes delays the exit by about
    two seconds, not forever (and not the default 30)."""
    database = tmp_path / "timeout.db"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "timeout.log"
    # Not tollgate_process: uvicorn logs the request it cancels with a traceback.
    with log.open("w") as out:
        process = subprocess.Popen(
            [*TOLLGATE, "serve", "--port", str(port), "--graceful-timeout", "2"],
            env=tollgate_env(database),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_healthy(base, process)
        stuck = connect(base)
        # Headers promise 100 bytes of body; only 10 come: the request stays in flight.
        stuck.putrequest("POST", "/login")
        stuck.putheader("Content-Type", "application/json")
        stuck.putheader("Content-Length", "100")
        stuck.endheaders(b'{"usernam')
        all_read_by_the_server(base)
        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        waited = time.monotonic() - signalled
        stuck.close()
    finally:
        stop(process)
    assert waited >= 2, f"exited after {waited:.1f} s: the in-flight request was not awaited"
    assert waited < 20, f"exited after {waited:.1f} s: the graceful timeout did not apply"
    assert "timeout graceful shutdown exceeded" in log.read_text()


def wait_until_healthy(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, "the server exited"
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.1)
