"""Shared fixtures: a fresh SQLite file per test, and a real server on loopback when needed."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
import uvicorn

from liveblog import credentials
from liveblog.broadcast.base import NullHub
from liveblog.domain.models import Role, User
from liveblog.service import Liveblog
from liveblog.settings import Settings
from liveblog.storage.sql import SqlStore
from liveblog.web.app import create_app
from liveblog.web.server import make_config

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext

    from cluster import Cluster
    from s3emulator import Moto

IN_CI = os.environ.get("CI") == "true"
# Cheap argon2 for every password the suite hashes, here and in the `liveblog` processes tests
# start (they inherit the environment); test_credentials.py checks the production parameters.
os.environ[credentials.PROFILE_VARIABLE] = credentials.TEST_PROFILE


def require_or_skip(condition: bool, reason: str) -> None:
    """Skip locally when a real component is missing; under CI=true that is a failure."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required for CI: {reason}")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def production_passwords() -> Iterator[None]:
    """Passwords hashed and checked at production cost in this test (timing claims)."""
    credentials.use_hasher(credentials.production_hasher())
    yield
    credentials.use_hasher(None)


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'liveblog.sqlite3'}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once per run; each test's store starts as a copy of it (a copy
    takes about 1 ms, running the migrations about 20 ms)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "liveblog.sqlite3"
    template = SqlStore(f"sqlite:///{path}")
    template.migrate()
    template.close()
    return path


@pytest.fixture
def store(db_url: str, sqlite_template: Path) -> Iterator[SqlStore]:
    """A fresh, migrated database for one test (on SQLite a copy of the template)."""
    target = Path(db_url.removeprefix("sqlite:///"))
    if db_url.startswith("sqlite:///") and not target.exists():
        shutil.copyfile(sqlite_template, target)
    store = SqlStore(db_url)
    store.migrate()  # a no-op on the copy, unless the test made its own file first
    yield store
    store.close()


@pytest.fixture
def svc(store: SqlStore) -> Liveblog:
    """The service with no listeners: for domain and storage behaviour."""
    return Liveblog(store, NullHub())


@dataclass
class Team:
    admin: User
    editor: User
    contributor: User


@pytest.fixture
def team(svc: Liveblog) -> Team:
    return Team(
        admin=svc.create_user("ada", Role.ADMIN, "admin-password"),
        editor=svc.create_user("eddie", Role.EDITOR, "editor-password"),
        contributor=svc.create_user("cora", Role.CONTRIBUTOR, "contrib-password"),
    )


class PromptServer(uvicorn.Server):
    """uvicorn's server, looking for `should_exit` every 10 ms instead of every 100 ms: the
    suite stops a few hundred servers, and each stop otherwise waits for that tick."""

    async def main_loop(self) -> None:
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864_000
            await asyncio.sleep(0.01)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's shutdown steps in its order (stop listening, ask every connection to end,
        wait for them and their tasks up to the graceful timeout, then the lifespan's shutdown),
        but waiting in 10 ms looks instead of a fixed 0.1 s pause and 0.1 s polls."""
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        deadline = time.monotonic() + (self.config.timeout_graceful_shutdown or 30)
        state = self.server_state
        while (state.connections or state.tasks) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        for task in list(state.tasks):
            task.cancel(msg="test server stopping: graceful shutdown time exceeded")
        for server in self.servers:
            await server.wait_closed()
        if not self.force_exit:
            await self.lifespan.shutdown()


class LiveServer:
    """The real app on a real loopback port, served by uvicorn in a background thread."""

    def __init__(self, db_url: str, data_dir: Path, **overrides: object) -> None:
        settings = Settings(data_dir=data_dir, database_url=db_url)
        for key, value in overrides.items():
            setattr(settings, key, value)
        self.app = create_app(settings)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = make_config(self.app, "127.0.0.1", self.port, "warning")
        config.timeout_graceful_shutdown = 1
        self.server = PromptServer(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def svc(self) -> Liveblog:
        svc: Liveblog = self.app.state.service
        return svc

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("test server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.app.state.hub.close_all()  # as a SIGTERM would (see web/server.py)
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def live(db_url: str, tmp_path: Path, team: Team) -> Iterator[LiveServer]:
    server = LiveServer(db_url, tmp_path).start()
    yield server
    server.stop()


@dataclass
class Tokens:
    admin: str
    editor: str
    contributor: str


@pytest.fixture
def tokens(svc: Liveblog, team: Team) -> Tokens:
    return Tokens(
        admin=svc.create_token(team.admin.name),
        editor=svc.create_token(team.editor.name),
        contributor=svc.create_token(team.contributor.name),
    )


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def http(live: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, timeout=10) as client:
        yield client


@pytest.fixture
def blog(http: httpx.Client, tokens: Tokens) -> dict[str, object]:
    """A live blog created through the API by an editor."""
    response = http.post(
        "/api/blogs",
        json={
            "slug": "election-night",
            "title": "Election night",
            "key_points": ["Polls close at 22:00"],
            "timezone": "Europe/Berlin",
            "language": "de",
        },
        headers=auth(tokens.editor),
    )
    assert response.status_code == 201, response.text
    data: dict[str, object] = response.json()
    return data


# --- PostgreSQL: one template database per run, a fresh copy per test -------------------------

PG_ADMIN_URL = os.environ.get("LIVEBLOG_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _pg_connect(url: str):  # type: ignore[no-untyped-def]
    import psycopg

    return psycopg.connect(url, autocommit=True, connect_timeout=3)


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Moto]:
    """moto's S3 emulator as a real server process on loopback, one per test module."""
    from s3emulator import run_moto

    yield from run_moto(tmp_path_factory)


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated template database unique to this test run, dropped at the end."""
    try:
        admin = _pg_connect(PG_ADMIN_URL)
    except Exception as exc:
        require_or_skip(False, f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc}")
        raise
    name = f"liveblog_tpl_{os.getpid()}_{int(time.time())}"
    admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    store = SqlStore(f"{base}/{name}")
    store.migrate()
    store.close()
    try:
        yield name
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


_pg_counter = iter(range(1_000_000))


@pytest.fixture
def pg_url(pg_template: str) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for one test."""
    name = f"{pg_template}_{next(_pg_counter)}"
    with _pg_connect(PG_ADMIN_URL) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with _pg_connect(PG_ADMIN_URL) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    """The same contract suite runs against both backends."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'contract.sqlite3'}"
    else:
        url = request.getfixturevalue("pg_url")
    store = SqlStore(url)
    store.migrate()
    yield store
    store.close()


@pytest.fixture
def cluster(pg_url: str, tmp_path: Path) -> Iterator[Cluster]:
    """`liveblog serve` processes on a fresh PostgreSQL database, and their readers, all ended
    after the test whatever happened in it."""
    from cluster import Cluster

    group = Cluster(pg_url, tmp_path)
    try:
        yield group
    finally:
        group.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's chromium driven by Playwright, one per test module. Not one per run: between
    its calls Playwright's sync API marks its event loop as running in this thread, so a later
    test's asyncio.run() would refuse; a launch costs about 0.5 s."""
    from playwright.sync_api import sync_playwright

    from browser import CHROMIUM, CHROMIUM_ARGS

    if not CHROMIUM.exists():
        require_or_skip(False, f"browser tests need Debian's chromium at {CHROMIUM}")
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def contexts(browser: Browser) -> Iterator[list[BrowserContext]]:
    """Browser contexts (separate cookies and storage) a test opens, closed before the server
    stops."""
    opened: list[BrowserContext] = []
    yield opened
    for context in opened:
        context.close()
