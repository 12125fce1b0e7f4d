"""`liveblog serve --workers N`: several processes on one port, all serving readers, sharing
PostgreSQL and the bridge; refused with SQLite; stopped and restarted as one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from cluster import Cluster, Node, editor_token, event_log
from conftest import auth

SLUG = "night-shift"


def workers_of(node: Node) -> list[int]:
    """The pids of the supervisor's worker processes."""
    assert node.proc is not None
    children = Path(f"/proc/{node.proc.pid}/task/{node.proc.pid}/children").read_text().split()
    pids = [int(pid) for pid in children]
    # multiprocessing's resource tracker is a child too; workers are the ones listening.
    return [pid for pid in pids if "liveblog" in _cmdline(pid) or _is_worker(pid)]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _is_worker(pid: int) -> bool:
    return "multiprocessing.spawn" in _cmdline(pid) and "resource_tracker" not in _cmdline(pid)


def listening_workers(node: Node) -> list[int]:
    return [pid for pid in workers_of(node) if _is_worker(pid)]


def kill_worker_and_await_replacement(node: Node, victim: int, what: str) -> None:
    """kill -9 one worker; fail (saying `what`) unless the supervisor has two workers again,
    the victim not among them, within 15 s."""
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        pids = listening_workers(node)
        if len(pids) == 2 and victim not in pids:
            return
        time.sleep(0.05)
    raise AssertionError(f"{what}: no replacement worker: {listening_workers(node)}{node.log()}")


def test_sqlite_with_several_workers_is_refused_clearly(tmp_path: Path) -> None:
    """SQLite allows one writing process: --workers 2 on it exits non-zero and says why."""
    result = subprocess.run(
        [sys.executable, "-m", "liveblog", "serve", "--workers", "2", "--port", "0"],
        env={**os.environ, "LIVEBLOG_DATA_DIR": str(tmp_path), "LIVEBLOG_DATABASE_URL": ""},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0
    assert "PostgreSQL" in result.stderr and "SQLite" in result.stderr
    assert not (tmp_path / "liveblog.sqlite3").exists() or result.stdout == ""


def test_every_worker_serves_readers_and_gets_every_entry(cluster: Cluster, pg_url: str) -> None:
    """With two workers on one port, readers spread over both, and every reader gets every
    entry, whichever worker took the POST."""
    token = editor_token(pg_url)
    (node,) = cluster.start("w", extra_args=("--workers", "2"))
    assert len(listening_workers(node)) == 2
    with node.client(headers=auth(token)) as http:
        assert http.post("/api/blogs", json={"slug": SLUG, "title": "T"}).status_code == 201
    readers = [cluster.reader(SLUG, [node]) for _ in range(16)]
    for reader in readers:
        reader.wait_connected()
    served_by = {pid: _open_sockets(pid) for pid in listening_workers(node)}
    assert all(count > 0 for count in served_by.values()), served_by
    with node.client(headers=auth(token)) as http:
        for n in range(10):
            response = http.post(f"/api/blogs/{SLUG}/entries", json={"body": f"e{n}"})
            assert response.status_code == 201
        log = event_log(http, SLUG)
    for reader in readers:
        reader.wait_for(log[-1]["seq"])
        assert reader.ids == [e["seq"] for e in log]


def _open_sockets(pid: int) -> int:
    fds = Path(f"/proc/{pid}/fd")
    return sum(1 for fd in fds.iterdir() if os.readlink(fd).startswith("socket:"))


def test_a_killed_worker_is_replaced_and_its_readers_lose_nothing(
    cluster: Cluster, pg_url: str
) -> None:
    """kill -9 of one worker: the supervisor starts a new one, the readers reconnect to the same
    port with Last-Event-ID and end with exactly the log."""
    token = editor_token(pg_url)
    (node,) = cluster.start("w", extra_args=("--workers", "2"))
    with node.client(headers=auth(token)) as http:
        assert http.post("/api/blogs", json={"slug": SLUG, "title": "T"}).status_code == 201
    readers = [cluster.reader(SLUG, [node, node, node]) for _ in range(12)]
    for reader in readers:
        reader.wait_connected()
    publisher = cluster.publisher(node, token, SLUG, retry=True)
    publisher.wait_count(10)
    kill_worker_and_await_replacement(node, listening_workers(node)[0], "after the kill")
    publisher.wait_count(len(publisher.entry_ids) + 10, timeout=20)
    publisher.finish()
    with node.client() as http:
        log = event_log(http, SLUG)
    for reader in readers:
        reader.wait_for(log[-1]["seq"], timeout=20)
        assert reader.ids == [e["seq"] for e in log], reader.summary()


def test_sigterm_stops_the_supervisor_and_every_worker(cluster: Cluster, pg_url: str) -> None:
    """SIGTERM to the supervisor: every worker shuts down cleanly and the whole group exits 0
    within seconds."""
    (node,) = cluster.start("w", extra_args=("--workers", "2"))
    pids = listening_workers(node)
    assert len(pids) == 2
    took = node.terminate(timeout=15)
    assert node.returncode == 0, node.log()
    assert took < 10
    assert not any(Path(f"/proc/{pid}").exists() for pid in pids)


def test_workers_die_with_a_killed_supervisor(cluster: Cluster, pg_url: str) -> None:
    """kill -9 of the supervisor takes its workers with it: none lingers on the port."""
    (node,) = cluster.start("w", extra_args=("--workers", "2"))
    pids = listening_workers(node)
    node.kill()
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(Path(f"/proc/{pid}").exists() for pid in pids)
