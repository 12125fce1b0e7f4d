"""The long fault-injection runs (make chaos, not make test): kill -9 again and again, of a
single SQLite server, of cluster nodes while hundreds of readers fail over between them, and of
the workers under one supervisor. Each has a one-shot version in make test (test_cli.py,
test_cluster.py, test_workers.py); these repeat it with the kills at seeded, varying moments."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from test_cli import make_editor_token, start_server
from test_cluster import SLUG, assert_saw_exactly, create_blog, the_log, wait_all
from test_workers import kill_worker_and_await_replacement, listening_workers

from cluster import Cluster, editor_token
from conftest import auth, free_port

pytestmark = pytest.mark.chaos

ROUNDS = 8


def _stored_entries(base: str) -> set[int]:
    stored: set[int] = set()
    cursor = ""
    while True:
        page = httpx.get(f"{base}/api/blogs/s/entries?limit=100{cursor}", timeout=10).json()
        stored |= {e["id"] for e in page["entries"]}
        if not page["next"]:
            return stored
        cursor = f"&before={page['next']}"


def test_acknowledged_publishes_survive_kill_9_round_after_round(tmp_path: Path) -> None:
    """Eight times over, a SQLite server is killed with SIGKILL while an editor publishes as
    fast as it can, after a seeded number of acknowledged entries: after each restart every
    entry ever answered 201 is stored, and the log holds one event per stored entry."""
    rng = random.Random(9)
    token = make_editor_token(tmp_path)
    headers = {"Authorization": f"Bearer {token}"}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(tmp_path, port)
    made = httpx.post(f"{base}/api/blogs", json={"slug": "s", "title": "T"}, headers=headers)
    assert made.status_code == 201, made.text
    acknowledged: list[int] = []
    try:
        for round_ in range(ROUNDS):
            halt = threading.Event()

            def publish_until_killed(round_: int = round_, halt: threading.Event = halt) -> None:
                with httpx.Client(base_url=base, headers=headers, timeout=5) as client:
                    for i in range(10_000):
                        if halt.is_set():
                            return
                        body = {"body": f"round {round_} entry {i}"}
                        try:
                            r = client.post("/api/blogs/s/entries", json=body)
                        except httpx.TransportError:
                            return
                        if r.status_code == 201:
                            acknowledged.append(r.json()["id"])

            writer = threading.Thread(target=publish_until_killed)
            writer.start()
            wanted = len(acknowledged) + rng.randrange(5, 60)
            deadline = time.monotonic() + 20
            while len(acknowledged) < wanted and time.monotonic() < deadline:
                time.sleep(0.002)
            os.kill(server.pid, signal.SIGKILL)  # requests are in flight
            server.wait(10)
            halt.set()
            writer.join(10)
            assert len(acknowledged) >= wanted, f"round {round_}: {len(acknowledged)} published"
            server = start_server(tmp_path, port)
            stored = _stored_entries(base)
            assert set(acknowledged) <= stored, f"round {round_}: lost {set(acknowledged) - stored}"
            seq = httpx.get(f"{base}/api/blogs/s", timeout=10).json()["seq"]
            assert seq == len(stored), f"round {round_}: seq {seq}, {len(stored)} entries"
    finally:
        server.kill()
        server.wait(10)


def test_readers_lose_nothing_while_nodes_are_killed_and_restarted_round_after_round(
    cluster: Cluster, pg_url: str
) -> None:
    """Eight rounds of kill -9 of node B or C (in turn) mid-publishing, each followed by its
    restart on the same port: 200 readers failing over between B and C, a hundred at a time,
    end with exactly the log, and every entry the publisher got a 201 for is in it."""
    rng = random.Random(12)
    token = editor_token(pg_url)
    a, b, c = cluster.start("A", "B", "C")
    create_blog(a, token)
    readers = [cluster.reader(SLUG, [b, c]) for _ in range(100)]
    readers += [cluster.reader(SLUG, [c, b]) for _ in range(100)]
    for reader in readers:
        reader.wait_connected(timeout=30)
    publisher = cluster.publisher(a, token, SLUG)
    for round_ in range(ROUNDS):
        victim = (b, c)[round_ % 2]
        publisher.wait_count(len(publisher.entry_ids) + rng.randrange(5, 40), timeout=30)
        victim.kill()
        assert victim.returncode == -9
        publisher.wait_count(len(publisher.entry_ids) + rng.randrange(1, 20), timeout=30)
        victim.spawn().wait_ready()
    publisher.wait_count(len(publisher.entry_ids) + 10, timeout=30)
    published = publisher.finish()
    log = the_log(a)
    in_log = {e["data"]["entry"]["id"] for e in log if e["type"] == "entry-published"}
    assert set(published) <= in_log
    wait_all(readers, log[-1]["seq"], timeout=60)
    for reader in readers:
        assert_saw_exactly(reader, log)
    moves = sum(len(reader.connections) - 1 for reader in readers)
    assert moves >= ROUNDS * 100, f"only {moves} reconnections in {ROUNDS} kills"


def test_readers_lose_nothing_while_workers_are_killed_round_after_round(
    cluster: Cluster, pg_url: str
) -> None:
    """Eight times over, kill -9 of one of two workers under one supervisor mid-publishing:
    each time a new worker takes its place, and the readers, reconnecting to the same port,
    end with exactly the log."""
    token = editor_token(pg_url)
    (node,) = cluster.start("w", extra_args=("--workers", "2"))
    with node.client(headers=auth(token)) as http:
        assert http.post("/api/blogs", json={"slug": SLUG, "title": "T"}).status_code == 201
    readers = [cluster.reader(SLUG, [node]) for _ in range(24)]
    for reader in readers:
        reader.wait_connected()
    publisher = cluster.publisher(node, token, SLUG, retry=True)
    for round_ in range(ROUNDS):
        publisher.wait_count(len(publisher.entry_ids) + 10, timeout=30)
        victim = listening_workers(node)[round_ % 2]
        kill_worker_and_await_replacement(node, victim, f"round {round_}")
    publisher.wait_count(len(publisher.entry_ids) + 10, timeout=30)
    publisher.finish()
    log = the_log(node)
    wait_all(readers, log[-1]["seq"], timeout=30)
    for reader in readers:
        assert_saw_exactly(reader, log)
