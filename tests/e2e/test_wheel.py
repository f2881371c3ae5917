"""`pip install` gives a working server: Tollgate built from the checkout and installed
into a fresh virtualenv outside it, run from a folder outside it, with nothing of the
checkout on its path. Slow (about a minute): it builds, and installs every dependency.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import httpx
import pytest

from tests.conftest import PASSWORD
from tests.e2e.server import free_port, running_process
from tollgate.store.migrate import head_revision

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def clean_env(**extra: str) -> dict[str, str]:
    """No PYTHONPATH, no virtualenv or Tollgate settings of the test run."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"PYTHONPATH", "VIRTUAL_ENV"} and not k.startswith("TOLLGATE_")
    }
    return {**env, **extra}


def run(*command: str | Path, cwd: Path, timeout: float = 120, **env: str) -> str:
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return result.stdout


class Install:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.source = work / "source"  # a copy: the build writes beside it
        self.wheel = work / "wheels" / "tollgate.whl"  # its real name once built
        self.venv = work / "venv"
        self.bin = self.venv / "bin"
        self.cwd = work / "elsewhere"  # where the commands run: not the checkout

    def pip(self, *args: str | Path) -> str:
        return run(self.bin / "python", "-m", "pip", *args, cwd=self.cwd, timeout=600)

    def tollgate(self, *args: str, **env: str) -> str:
        return run(self.bin / "tollgate", *args, cwd=self.cwd, **env)


@pytest.fixture(scope="module")
def install(tmp_path_factory: pytest.TempPathFactory) -> Install:
    """A copy of the sources (the build writes beside them, never into the checkout),
    built into a wheel and installed with the dependencies its metadata names, at the
    versions requirements.txt pins."""
    work = tmp_path_factory.mktemp("wheel")
    assert not work.is_relative_to(ROOT)
    installed = Install(work)
    shutil.copytree(
        ROOT / "src",
        installed.source / "src",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
    )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, installed.source / name)
    installed.cwd.mkdir()
    wheels = work / "wheels"
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", wheels, installed.source, cwd=work)
    (installed.wheel,) = wheels.glob("tollgate-*.whl")
    run(sys.executable, "-m", "venv", installed.venv, cwd=work)
    installed.pip("install", "--quiet", "-c", ROOT / "requirements.txt", installed.wheel)
    return installed


@pytest.fixture(scope="module", params=["wheel", "source folder"])
def tollgate(request: pytest.FixtureRequest, install: Install) -> Install:
    """Tollgate installed from the wheel, or from the source folder (`pip install .`)."""
    package = install.wheel if request.param == "wheel" else install.source
    install.pip("install", "--quiet", "--no-deps", "--force-reinstall", package)
    install.pip("check")  # every dependency the metadata names is there
    return install


def test_the_installed_package_is_the_one_running(tollgate: Install) -> None:
    where = run(
        tollgate.bin / "python",
        "-c",
        "import tollgate, tollgate.ui.routes as ui; print(tollgate.__file__); print(ui.STATIC)",
        cwd=tollgate.cwd,
    ).split()
    site_packages = next((tollgate.venv / "lib").glob("python3.*/site-packages"))
    for path in where:
        assert Path(path).is_relative_to(site_packages), path
    assert tollgate.tollgate("--version") == f"tollgate {VERSION}\n"
    # The mail templates are packaged (issue 17): a reset mail renders from the install.
    subject = run(
        tollgate.bin / "python",
        "-c",
        "from tollgate.mail.templates import MailTemplates as T; "
        "print(T().render('password_reset', site='s', issuer='i', username='u', "
        "recipient='r', link='l', expires_in='30 minutes', expires_at='t').subject)",
        cwd=tollgate.cwd,
    )
    assert subject == "Reset your password for s\n"


def test_migrate_and_serve_from_the_install(tollgate: Install) -> None:
    database = tollgate.work / f"tollgate-{free_port()}.db"
    url = f"sqlite+aiosqlite:///{database}"
    migrated = tollgate.tollgate("migrate", TOLLGATE_DATABASE_URL=url)
    assert migrated == f"database at revision {head_revision()}\n"

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [str(tollgate.bin / "tollgate"), "serve", "--port", str(port)]
    env = clean_env(TOLLGATE_DATABASE_URL=url)
    log = tollgate.work / f"serve-{port}.log"
    with running_process(command, env, f"{base}/health", log, cwd=tollgate.cwd):
        with httpx.Client(base_url=base) as http:
            assert http.get("/health").json() == {"status": "ok"}
            assert http.get("/ready").json() == {"status": "ready"}
            page = http.get("/")
            assert page.status_code == 200
            assert "<title>Tollgate — your account</title>" in page.text
            for asset in ("/ui/app.js", "/ui/style.css", "/favicon.ico"):
                assert http.get(asset).status_code == 200, asset
            # The authorization endpoint's pages come from packaged templates.
            refused = http.get("/authorize", params={"client_id": "x", "redirect_uri": "y"})
            assert refused.status_code == 400
            assert "This sign-in cannot continue" in refused.text
            assert http.get("/authorize/style.css").status_code == 200
            head = http.head("/")
            assert head.status_code == 200
            assert head.content == b""
            assert int(head.headers["content-length"]) == len(page.content)
            for docs, script in (
                ("/docs", "/docs-assets/swagger-ui-bundle.js"),
                ("/redoc", "/docs-assets/redoc.standalone.js"),
            ):
                assert script in http.get(docs).text
                assert http.get(script).status_code == 200, script
            joined = http.post("/join", json={"username": "pip", "password": PASSWORD})
            assert joined.status_code == 201, joined.text
            access = joined.json()["access_token"]
            me = http.get("/me", headers={"Authorization": f"Bearer {access}"})
            assert me.json()["username"] == "pip"
            assert http.get("/.well-known/jwks.json").json()["keys"]
