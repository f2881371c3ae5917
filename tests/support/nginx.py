"""A real nginx (Debian's package) running one server block, on loopback, for one test."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import stop

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "nginx"


def nginx_binary() -> str:
    path = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(path):
        pytest.fail("nginx is not installed; ./scripts/test installs Debian's nginx")
    return path


def example(name: str, replacements: dict[str, str]) -> str:
    """An example config from examples/nginx with its sample addresses replaced."""
    text = (EXAMPLES / name).read_text()
    for sample, real in replacements.items():
        assert sample in text, sample
        text = text.replace(sample, real)
    return text


@contextmanager
def running_nginx(folder: Path, http_block: str, listen: str) -> Iterator[None]:
    """Run nginx with `http_block` inside http {}; wait until `listen` (host:port) answers."""
    prefix = folder / "nginx"
    prefix.mkdir(exist_ok=True)
    conf = prefix / "nginx.conf"
    temp = "\n".join(
        f"  {kind}_temp_path {prefix}/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    conf.write_text(
        f"daemon off;\nworker_processes 1;\npid {prefix}/nginx.pid;\n"
        f"error_log {prefix}/error.log warn;\nevents {{}}\n"
        f"http {{\n  access_log off;\n{temp}\n{http_block}\n}}\n"
    )
    process = subprocess.Popen(
        [nginx_binary(), "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "stderr.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                httpx.get(f"http://{listen}/", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((prefix / "error.log").read_text()) from None
                time.sleep(0.1)
        yield
    finally:
        stop(process)
