"""The package as a newcomer gets it: the wheel built from this tree, installed with no extras
into a fresh virtual environment (so no PostgreSQL driver), serving SQLite."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from conftest import free_port, require_or_skip

ROOT = Path(__file__).resolve().parents[1]
POSTGRES_EXTRA = "pip install 'liveblog[postgres]'"


@dataclass
class PlainInstall:
    venv: Path

    @property
    def liveblog(self) -> str:
        return str(self.venv / "bin" / "liveblog")

    def env(self, **extra: str) -> dict[str, str]:
        """This process's environment without anything pointing at the development install."""
        drop = ("PYTHONPATH", "VIRTUAL_ENV", "LIVEBLOG_DATA_DIR", "LIVEBLOG_DATABASE_URL")
        env = {k: v for k, v in os.environ.items() if k not in drop}
        return {**env, "PATH": f"{self.venv / 'bin'}:{env.get('PATH', '')}", **extra}


def _run(command: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="session")
def plain_install(tmp_path_factory: pytest.TempPathFactory) -> PlainInstall:
    """Built and installed once per run: a copy of the tree (so no stale build/ or egg-info of
    the development install goes in), `pip wheel`, then `pip install` of that wheel alone."""
    work = tmp_path_factory.mktemp("plain-install")
    source = work / "source"
    shutil.copytree(
        ROOT / "src",
        source / "src",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
    )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    built = _run([*pip, "wheel", "--no-deps", "-q", "-w", str(work / "dist"), str(source)])
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = (work / "dist").glob("liveblog-*.whl")
    venv = work / "venv"
    made = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    assert made.returncode == 0, made.stderr
    target = ["--python", str(venv / "bin" / "python")]
    installed = _run([*pip, *target, "install", "-q", "--no-compile", str(wheel)])
    require_or_skip(
        installed.returncode == 0,
        f"could not install the wheel's dependencies from the package index: {installed.stderr}",
    )
    return PlainInstall(venv)


def test_the_plain_install_has_no_postgresql_driver(plain_install: PlainInstall) -> None:
    """The environment under test really lacks the extra: psycopg does not import there."""
    python = str(plain_install.venv / "bin" / "python")
    probe = _run([python, "-c", "import psycopg"])
    assert probe.returncode == 1 and "No module named 'psycopg'" in probe.stderr


@pytest.fixture
def plain_server(plain_install: PlainInstall, tmp_path: Path) -> Iterator[str]:
    """`liveblog demo`, then `liveblog serve`, from the plain install in an empty directory."""
    port = free_port()
    env = plain_install.env()
    demo = subprocess.run(
        [plain_install.liveblog, "demo", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert demo.returncode == 0, demo.stderr
    assert demo.stderr.splitlines()[0] == f"database: {tmp_path / 'data' / 'liveblog.sqlite3'}"
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [plain_install.liveblog, "serve", "--port", str(port), "--log-level", "warning"],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(10)


def test_the_plain_install_serves_the_demo_on_sqlite(plain_server: str) -> None:
    """Installed without extras, `liveblog serve` on SQLite answers /healthz ok and serves the
    demo blog's page, its live script and the API docs with their assets."""
    with httpx.Client(base_url=plain_server, timeout=10) as http:
        health = http.get("/healthz")
        assert health.status_code == 200 and health.json()["status"] == "ok", health.text
        page = http.get("/blogs/demo-storm")
        assert page.status_code == 200 and "<article" in page.text
        assert http.get("/static/reader.js").status_code == 200
        docs = http.get("/api/docs")
        assert docs.status_code == 200
        for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "/static/api_docs.js"):
            path = next(p.split('"')[0] for p in docs.text.split('="')[1:] if asset in p)
            assert http.get(path).status_code == 200, path


@pytest.mark.parametrize("command", ["serve", "migrate"])
def test_postgresql_without_the_driver_stops_with_the_install_command(
    plain_install: PlainInstall, tmp_path: Path, command: str
) -> None:
    """With a PostgreSQL URL and no driver installed, `serve` (and `migrate`) exit 1 at once
    with a message naming pip install 'liveblog[postgres]', not a stack trace."""
    env = plain_install.env(LIVEBLOG_DATABASE_URL="postgresql://liveblog@127.0.0.1:1/liveblog")
    args = ["serve", "--port", str(free_port())] if command == "serve" else [command]
    done = subprocess.run(
        [plain_install.liveblog, *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    assert POSTGRES_EXTRA in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.splitlines()[0] == "database: postgresql://liveblog@127.0.0.1:1/liveblog"
