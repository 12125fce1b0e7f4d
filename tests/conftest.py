"""Shared fixtures: a fresh SQLite file per test, and a real server on loopback when needed."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from liveblog.broadcast.base import NullHub
from liveblog.domain.models import Role, User
from liveblog.service import Liveblog
from liveblog.settings import Settings
from liveblog.storage.sql import SqlStore
from liveblog.web.app import create_app

IN_CI = os.environ.get("CI") == "true"


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
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'liveblog.sqlite3'}"


@pytest.fixture
def store(db_url: str) -> Iterator[SqlStore]:
    store = SqlStore(db_url)
    store.migrate()
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


class LiveServer:
    """The real app on a real loopback port, served by uvicorn in a background thread."""

    def __init__(self, db_url: str, data_dir: Path, **overrides: object) -> None:
        settings = Settings(data_dir=data_dir, database_url=db_url)
        for key, value in overrides.items():
            setattr(settings, key, value)
        self.app = create_app(settings)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning",
                                timeout_graceful_shutdown=1)
        self.server = uvicorn.Server(config)
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
        json={"slug": "election-night", "title": "Election night", "key_points": ["Polls close at 22:00"],
              "timezone": "Europe/Berlin", "language": "de"},
        headers=auth(tokens.editor),
    )
    assert response.status_code == 201, response.text
    data: dict[str, object] = response.json()
    return data
