"""Run a real `tollgate serve` process on a free loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

TOLLGATE = [sys.executable, "-m", "tollgate"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def tollgate_env(database: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOLLGATE_")}
    env["TOLLGATE_DATABASE_URL"] = f"sqlite+aiosqlite:///{database}"
    env.update({f"TOLLGATE_{k.upper()}": v for k, v in settings.items()})
    return env


def run_cli(database: Path, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TOLLGATE, *args],
        env=tollgate_env(database, **settings),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@contextmanager
def running_process(
    command: list[str], env: dict[str, str], ready_url: str, log: Path, cwd: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Start a process, wait until ready_url answers 200, stop it (SIGINT) at the end."""
    with log.open("w") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=cwd)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{command[:3]} exited early:\n{log.read_text()}")
            try:
                if httpx.get(ready_url, timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{command[:3]} did not start:\n{log.read_text()}")
            time.sleep(0.1)
        yield process
    finally:
        stop(process)
        output = log.read_text()
        assert "Traceback" not in output, output


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def tollgate_process(
    database: Path, *args: str, **settings: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A real `tollgate serve` on a free port; yields its base URL and the process."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [*TOLLGATE, "serve", "--port", str(port), "--log-level", "warning", *args]
    log = database.with_suffix(f".{port}.log")
    env = tollgate_env(database, **settings)
    with running_process(command, env, f"{base}/health", log) as process:
        yield base, process


@contextmanager
def running_server(database: Path, *args: str, **settings: str) -> Iterator[str]:
    with tollgate_process(database, *args, **settings) as (base, _):
        yield base
