"""The PostgreSQL bridge: another node's commits reach this node's readers through LISTEN/NOTIFY,
and a lost LISTEN connection loses nothing (the node reconnects and reads the log)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from liveblog.broadcast.base import NullHub
from liveblog.broadcast.pgbridge import APPLICATION_NAME
from liveblog.domain.models import Role, User
from liveblog.service import Liveblog
from liveblog.storage.sql import SqlStore

from conftest import LiveServer
from sse import take

SLUG = "harbour-fire"


@pytest.fixture
def other_node(pg_url: str) -> Iterator[tuple[Liveblog, User]]:
    """A second writer with its own connections and no hub of ours: as another node is."""
    store = SqlStore(pg_url)
    svc = Liveblog(store, NullHub())
    editor = svc.create_user("other", Role.EDITOR, "editor-password")
    svc.create_blog(editor, slug=SLUG, title="Harbour fire")
    yield svc, editor
    store.close()


@pytest.fixture
def node(pg_url: str, tmp_path: Path, other_node: object) -> Iterator[LiveServer]:
    server = LiveServer(pg_url, tmp_path).start()
    yield server
    server.stop()


def test_another_nodes_commit_reaches_this_nodes_readers_at_once(
    node: LiveServer, other_node: tuple[Liveblog, User]
) -> None:
    """An entry committed by another node is on this node's open streams well within a second
    (the NOTIFY, not the periodic resync, carried it)."""
    svc, editor = other_node
    with (
        httpx.Client(base_url=node.url, timeout=10) as http,
        http.stream("GET", f"/api/blogs/{SLUG}/stream") as stream,
    ):
        started = time.monotonic()
        entry = svc.create_entry(editor, SLUG, body="Fire crews at pier 4")
        (frame,) = take(stream, 1)
        took = time.monotonic() - started
    assert frame.event == "entry-published" and frame.json["entry"]["id"] == entry.id
    assert took < 1.0, f"{took:.3f} s: the signal did not arrive"


def test_commits_made_while_the_listen_connection_was_down_are_not_lost(
    node: LiveServer, other_node: tuple[Liveblog, User], pg_url: str
) -> None:
    """The LISTEN connection is killed by the database; entries committed before it is back
    still reach open streams, in order, once the node reconnects and rereads the log."""
    svc, editor = other_node
    bridge = node.app.state.bridge
    with (
        httpx.Client(base_url=node.url, timeout=15) as http,
        http.stream("GET", f"/api/blogs/{SLUG}/stream") as stream,
    ):
        with psycopg.connect(pg_url, autocommit=True) as admin:
            # The function sits in the select list so that it runs only on the filtered rows.
            killed = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = %s AND datname = current_database()",
                (APPLICATION_NAME,),
            ).fetchall()
        assert killed == [(True,)]
        deadline = time.monotonic() + 5
        while bridge.listening.is_set() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not bridge.listening.is_set()
        ids = [svc.create_entry(editor, SLUG, body=f"update {n}").id for n in range(3)]
        written = time.monotonic()
        frames = take(stream, 3)
        took = time.monotonic() - written
    assert [f.json["entry"]["id"] for f in frames] == ids
    assert [f.id for f in frames] == [1, 2, 3]
    assert bridge.listening.is_set()
    # Sooner than the 5 s safety-net resync: the reconnect itself reread the log.
    assert took < 3.0, f"{took:.2f} s"
