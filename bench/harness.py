"""Starting servers and driving them with wrk, for the benchmark scenarios."""

from __future__ import annotations

import os
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
WRK_SCRIPTS = ROOT / "bench" / "wrk"
CORES = os.cpu_count() or 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    base: str
    process: subprocess.Popen[bytes]

    def worker_pids(self) -> list[int]:
        """The serving processes: the children when there are workers, else itself."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        pids = [int(p) for p in children.read_text().split()] if children.exists() else []
        # multiprocessing's resource tracker is a child too, and serves nothing.
        pids = [
            p for p in pids if b"resource_tracker" not in Path(f"/proc/{p}/cmdline").read_bytes()
        ]
        return pids or [self.process.pid]


@contextmanager
def serve(
    command: list[str], ready_path: str, env: dict[str, str] | None = None
) -> Iterator[Server]:
    """Start a server on a free port ({port} in the command) and wait until it answers."""
    port = free_port()
    argv = [part.replace("{port}", str(port)) for part in command]
    log = tempfile.NamedTemporaryFile(prefix="bench-", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen(
        argv, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{argv[:4]} exited:\n{Path(log.name).read_text()}")
            try:
                if httpx.get(base + ready_path, timeout=2).status_code < 500:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{argv[:4]} did not start:\n{Path(log.name).read_text()}")
            time.sleep(0.1)
        yield Server(base, process)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        os.unlink(log.name)


def uvicorn(app: str, workers: int = CORES) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--port",
        "{port}",
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--no-access-log",
    ]


def tollgate(workers: int = CORES) -> list[str]:
    return [
        sys.executable,
        "-m",
        "tollgate",
        "serve",
        "--port",
        "{port}",
        "--workers",
        str(workers),
        "--log-level",
        "warning",
    ]


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    # Answers that were not 2xx (counted by wrk/common.lua) plus socket errors (connect,
    # read, write, timeout): any of them fails the row the load belongs to.
    failed: int
    output: str


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(
    url: str,
    *,
    script: str = "get.lua",
    env: dict[str, str] | None = None,
    seconds: int = 5,
    connections: int = 32,
    threads: int = 2,
    timeout: int = 2,
) -> WrkResult:
    """One wrk load. Every script loads wrk/common.lua, which counts failed answers; an
    answer later than `timeout` seconds counts as a failed one (wrk's own default is 2)."""
    command = ["wrk", "--latency", f"-t{threads}", f"-c{connections}", f"-d{seconds}s"]
    command += [f"--timeout={timeout}s"]
    command += ["-s", str(WRK_SCRIPTS / script), url]
    run_env = {
        **os.environ,
        "BENCH_THREADS": str(threads),
        "BENCH_WRK_DIR": str(WRK_SCRIPTS),
        **(env or {}),
    }
    out = subprocess.run(command, capture_output=True, text=True, check=True, env=run_env).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    counted = re.search(r"^failed (\d+)$", out, re.MULTILINE)
    if counted is None:
        raise RuntimeError(f"{script} did not report its failed answers:\n{out}")
    failed = int(counted.group(1))
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    if sockets:
        failed += sum(int(n) for n in sockets.groups())
    return WrkResult(rps, p50, p99, requests, failed, out)


def peak_rss_mib(pids: list[int]) -> list[float]:
    """VmHWM (the high-water mark of resident memory) of each process, in MiB."""
    peaks = []
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                peaks.append(int(line.split()[1]) / 1024)
    return peaks


def tree_cpu_seconds(pid: int) -> dict[str, float]:
    """CPU time (user + system) of a process and all its descendants, by command name,
    including the ones already exited and reaped (cutime/cstime): to compare CPU per
    request, and see which process spent it."""
    totals: dict[str, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            name, rest = Path(f"/proc/{current}/stat").read_text().split(" (", 1)[1].rsplit(")", 1)
            fields = rest.split()
            name = name.split(":")[0].split()[0]  # "postgres: bench ..." -> "postgres"
            totals[name] = totals.get(name, 0.0) + sum(int(f) for f in fields[11:15]) / tick
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(p) for p in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue  # exited meanwhile
    return totals


def children_cpu_seconds() -> float:
    """CPU of this process's reaped children (wrk runs as one): user + system."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
