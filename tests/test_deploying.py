"""The deployment guide, proved: the shipped deploy/nginx.conf in front of two real nodes on one
PostgreSQL database passes the live stream through unbuffered and uncompressed, skips a node
killed with kill -9, and refuses what the app would refuse; and docs/deploying.md documents every
setting the code reads."""

from __future__ import annotations

import io
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

from liveblog.settings import Settings

from cluster import Cluster, Node, StreamReader, editor_token, event_log
from conftest import auth, free_port, require_or_skip

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_CONF = ROOT / "deploy" / "nginx.conf"
GUIDE = ROOT / "docs" / "deploying.md"
SOURCE = ROOT / "src" / "liveblog"
NGINX = Path("/usr/sbin/nginx")
SLUG = "budget-day"
KEEPALIVE_SECONDS = 1.0


# --- nginx, run from the shipped configuration -------------------------------------------------


def proxy_conf(nodes: list[Node], port: int, prefix: Path) -> str:
    """deploy/nginx.conf with only the two upstream `server` addresses, the listen port and its
    file places swapped for the test's, so the configuration under test is the shipped one."""
    first, second = nodes
    swaps = {
        "server 10.0.0.11:8000 ": f"server 127.0.0.1:{first.port} ",
        "server 10.0.0.12:8000 ": f"server 127.0.0.1:{second.port} ",
        "listen 80 ": f"listen 127.0.0.1:{port} ",
        "/var/log/nginx/": f"{prefix}/",
        "/var/lib/nginx/": f"{prefix}/",
        "/run/nginx.pid": f"{prefix}/nginx.pid",
    }
    text = SHIPPED_CONF.read_text()
    for old, new in swaps.items():
        assert old in text, f"deploy/nginx.conf no longer contains {old!r}; update this test"
        text = text.replace(old, new)
    return text


class Proxy:
    """The real nginx in the foreground, with everything it writes in one temporary folder."""

    def __init__(self, nodes: list[Node], port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # Not under pytest's tmp_path: run as root, nginx's workers drop to an unprivileged
        # user, which must be able to reach the temp folders it writes request bodies to.
        self.prefix = Path(tempfile.mkdtemp(prefix="liveblog-nginx-"))
        self.prefix.chmod(0o755)
        conf = self.prefix / "nginx.conf"
        conf.write_text(proxy_conf(nodes, self.port, self.prefix))
        self.args = [str(NGINX), "-p", f"{self.prefix}/", "-c", str(conf)]
        self.args += ["-e", str(self.prefix / "error.log")]
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Proxy:
        check = subprocess.run([*self.args, "-t"], capture_output=True, text=True, check=False)
        assert check.returncode == 0, f"nginx -t refused deploy/nginx.conf:\n{check.stderr}"
        self.proc = subprocess.Popen(
            [*self.args, "-g", "daemon off;"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        with httpx.Client(base_url=self.url, timeout=2) as http:
            while True:
                assert self.proc.poll() is None, f"nginx exited{self.log()}"
                try:
                    if http.get("/healthz").status_code == 200:
                        return self
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, f"nginx not ready after 10 s{self.log()}"
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # fast shutdown: streams are cut
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        shutil.rmtree(self.prefix, ignore_errors=True)

    def log(self) -> str:
        path = self.prefix / "error.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return f"\n--- nginx error.log ---\n{text[-4000:]}" if text else ""

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(**{"base_url": self.url, "timeout": 10, **kwargs})


@dataclass
class Deployment:
    a: Node
    b: Node
    proxy: Proxy
    token: str


@pytest.fixture
def nginx_installed() -> None:
    require_or_skip(NGINX.exists(), f"nginx is not installed at {NGINX} (Debian package nginx)")


@pytest.fixture
def cluster(
    nginx_installed: None, pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Cluster]:
    # Nodes inherit the environment: keep-alives every second instead of 15, to see them pass.
    monkeypatch.setenv("LIVEBLOG_KEEPALIVE_SECONDS", str(KEEPALIVE_SECONDS))
    group = Cluster(pg_url, tmp_path)
    try:
        yield group
    finally:
        group.close()


@pytest.fixture
def deployed(cluster: Cluster, pg_url: str) -> Iterator[Deployment]:
    """Two nodes on a fresh PostgreSQL database behind nginx, and a blog created through it."""
    token = editor_token(pg_url)
    a, b = cluster.start("A", "B")
    proxy = Proxy([a, b])
    try:
        proxy.start()
        with proxy.client(headers=auth(token)) as http:
            response = http.post("/api/blogs", json={"slug": SLUG, "title": "Budget day, live"})
        assert response.status_code == 201, response.text
        yield Deployment(a, b, proxy, token)
    finally:
        proxy.stop()


# --- helpers -----------------------------------------------------------------------------------


def read_through(cluster: Cluster, proxy: Proxy) -> StreamReader:
    """A reader of the blog's whole log through nginx; it reconnects through nginx too."""
    reader = StreamReader([proxy.url], SLUG, last_event_id=0)
    cluster.readers.append(reader)
    reader.start()
    reader.wait_connected()
    return reader


def stream_readers(node: Node) -> float:
    """The node's own count of connected stream readers, from its /metrics."""
    with node.client() as http:
        text = http.get("/metrics").text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "liveblog_stream_readers":
                return float(sample.value)
    raise AssertionError("no liveblog_stream_readers in /metrics")


def publish(http: httpx.Client, body: str) -> int:
    response = http.post(f"/api/blogs/{SLUG}/entries", json={"body": body})
    assert response.status_code == 201, response.text
    entry_id: int = response.json()["id"]
    return entry_id


def arrival(reader: StreamReader, entry_id: int, timeout: float = 5.0) -> float:
    """When (time.monotonic) the reader got the entry-published frame of `entry_id`."""

    def times() -> list[float]:
        return [
            f.at
            for f in reader.events
            if f.event == "entry-published" and f.json["entry"]["id"] == entry_id
        ]

    reader.wait_until(lambda: bool(times()), f"entry {entry_id}", timeout)
    return times()[0]


def assert_saw_exactly(reader: StreamReader, log: list[dict[str, Any]]) -> None:
    """Every event of the log once, in order, with the log's type and data."""
    assert reader.ids == list(range(1, len(log) + 1)), reader.summary()
    got = [(f.id, f.event, f.json) for f in reader.events]
    assert got == [(e["seq"], e["type"], e["data"]) for e in log], reader.summary()


def logs(deployed: Deployment) -> str:
    """Both nodes' output and nginx's error log, for a failure message."""
    return deployed.a.log() + deployed.b.log() + deployed.proxy.log()


# --- the tests ---------------------------------------------------------------------------------


def test_an_entry_published_through_nginx_reaches_readers_through_nginx_within_a_second(
    deployed: Deployment, cluster: Cluster
) -> None:
    """An entry POSTed through nginx reaches readers streaming through nginx, spread over both
    nodes, in under a second: nothing between node and reader holds frames back."""
    readers = [read_through(cluster, deployed.proxy) for _ in range(4)]
    # least_conn: the four streams are split between the nodes, so delivery crosses nodes.
    assert sorted([stream_readers(deployed.a), stream_readers(deployed.b)]) == [2, 2]
    latencies: list[float] = []
    with deployed.proxy.client(headers=auth(deployed.token)) as http:
        for n in range(5):
            sent = time.monotonic()
            entry_id = publish(http, f"The chancellor rises, update {n}")
            latencies += [arrival(reader, entry_id) - sent for reader in readers]
        log = event_log(http, SLUG)
    print(f"\nthrough nginx, POST sent -> frame read: max {max(latencies) * 1000:.1f} ms")
    assert max(latencies) < 1.0, latencies
    for reader in readers:
        reader.wait_for(log[-1]["seq"])
        assert_saw_exactly(reader, log)


def test_the_stream_through_nginx_is_not_compressed_and_its_keep_alives_pass_through(
    deployed: Deployment,
) -> None:
    """Through nginx, pages and JSON are gzipped for clients that accept it, while the stream
    stays plain text/event-stream whose keep-alive comments arrive one by one as written."""
    gzip = {"Accept-Encoding": "gzip"}
    with deployed.proxy.client(headers=auth(deployed.token)) as http:
        for n in range(3):  # enough JSON to pass gzip_min_length
            publish(http, f"Fuel duty frozen for another year, says the chancellor ({n}). " * 5)
    with deployed.proxy.client() as http:
        for path in (f"/blogs/{SLUG}", f"/api/blogs/{SLUG}/entries"):
            response = http.get(path, headers=gzip)
            assert response.status_code == 200, f"{path}: {response.status_code}{logs(deployed)}"
            assert response.headers.get("content-encoding") == "gzip", (path, response.headers)

        with http.stream("GET", f"/api/blogs/{SLUG}/stream", headers=gzip) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            assert "content-encoding" not in response.headers, response.headers
            assert "x-accel-buffering" not in response.headers  # nginx's own, not passed on
            opened = time.monotonic()
            raw = b""
            keepalives: list[float] = []
            for chunk in response.iter_raw():
                raw += chunk
                while raw.count(b": keep-alive\n\n") > len(keepalives):
                    keepalives.append(time.monotonic() - opened)
                if len(keepalives) >= 3:
                    break
    assert raw.startswith(b"retry: "), raw[:80]
    # One comment about every KEEPALIVE_SECONDS, each arriving on its own: not held in a buffer.
    assert keepalives[0] < 3 * KEEPALIVE_SECONDS, keepalives
    gaps = [later - earlier for earlier, later in pairwise(keepalives)]
    assert all(gap > KEEPALIVE_SECONDS / 2 for gap in gaps), keepalives


def test_readers_through_nginx_survive_kill_9_of_a_node_and_get_exactly_the_log(
    deployed: Deployment, cluster: Cluster
) -> None:
    """After kill -9 of node A, the readers it held reconnect through nginx with their
    Last-Event-ID and end with exactly the event log, while pages, JSON and writes through
    nginx keep succeeding on node B."""
    proxy, a, b = deployed.proxy, deployed.a, deployed.b
    readers = [read_through(cluster, proxy) for _ in range(4)]
    on_a = stream_readers(a)
    assert on_a == 2, on_a
    publisher = cluster.publisher(b, deployed.token, SLUG, "from B")
    publisher.wait_count(10)
    a.kill()

    with proxy.client() as http:
        for _ in range(10):
            for path in (f"/blogs/{SLUG}", f"/api/blogs/{SLUG}", f"/api/blogs/{SLUG}/entries"):
                response = http.get(path)
                assert response.status_code == 200, (
                    f"{path}: {response.status_code}{logs(deployed)}"
                )
    with proxy.client(headers=auth(deployed.token)) as http:
        for n in range(5):
            publish(http, f"through nginx after the kill {n}")
    publisher.wait_count(len(publisher.entry_ids) + 10)
    publisher.finish()

    with proxy.client() as http:
        log = event_log(http, SLUG)
    for reader in readers:
        reader.wait_for(log[-1]["seq"])
        assert_saw_exactly(reader, log)
    moved = [reader for reader in readers if len(reader.connections) > 1]
    assert len(moved) == on_a, [reader.summary() for reader in readers]
    for reader in moved:
        first, second = reader.connections[:2]
        seen = [f.id for f in first.frames if f.id is not None]
        assert second.last_event_id == seen[-1], reader.summary()
        assert second.status == 200, reader.summary()


def test_nginx_refuses_bodies_over_the_apps_limit_as_the_app_would(deployed: Deployment) -> None:
    """A body of exactly the app's limit (1 MiB) passes nginx to the app; one byte more is
    refused by nginx with the same JSON 413 the app gives."""
    limit = Settings().max_request_bytes
    exact = b'{"body": "' + b"x" * (limit - len(b'{"body": ""}')) + b'"}'
    assert len(exact) == limit
    headers = {**auth(deployed.token), "Content-Type": "application/json"}
    path = f"/api/blogs/{SLUG}/entries"
    with deployed.proxy.client(headers=headers) as http:
        passed = http.post(path, content=exact)
        refused = http.post(path, content=exact + b" ")
    with deployed.a.client(headers=headers) as http:
        by_the_app = http.post(path, content=exact + b" ")
    # The app itself answered: its Markdown limit names the field.
    assert passed.status_code == 413 and passed.json().get("field") == "body", passed.text
    assert by_the_app.status_code == 413
    assert refused.status_code == 413
    assert "content-security-policy" not in refused.headers  # nginx answered, not a node
    assert refused.json() == by_the_app.json(), (refused.text, by_the_app.text)


def test_nginx_passes_picture_uploads_up_to_the_media_limit_only(deployed: Deployment) -> None:
    """A 2 MB photo passes nginx on the upload route (over the 1 MiB every other route keeps);
    a body over the media limit is refused by nginx with the JSON 413 the node gives."""
    noisy = Image.effect_noise((1400, 1400), 120).convert("RGB")
    buffer = io.BytesIO()
    noisy.save(buffer, "JPEG", quality=92)
    photo = buffer.getvalue()
    assert len(photo) > 1024 * 1024
    path = f"/api/blogs/{SLUG}/media"
    form = {"alt": "Noise"}
    with deployed.proxy.client(headers=auth(deployed.token), timeout=60) as http:
        passed = http.post(path, files={"file": ("p.jpg", photo, "image/jpeg")}, data=form)
        huge = b"\0" * (Settings().media_max_bytes + 128 * 1024)
        refused = http.post(path, files={"file": ("p.jpg", huge, "image/jpeg")}, data=form)
    with deployed.a.client(headers=auth(deployed.token), timeout=60) as http:
        by_the_app = http.post(path, files={"file": ("p.jpg", huge, "image/jpeg")}, data=form)
    assert passed.status_code == 201, passed.text
    assert refused.status_code == 413 and by_the_app.status_code == 413
    assert "content-security-policy" not in refused.headers  # nginx answered, not a node
    assert refused.json() == by_the_app.json(), (refused.text, by_the_app.text)


def test_every_liveblog_environment_variable_is_in_the_settings_reference() -> None:
    """Every LIVEBLOG_* variable named in src/liveblog is a row of docs/deploying.md's settings
    reference, and the reference names no variable the code does not read."""
    in_code: set[str] = set()
    for path in SOURCE.rglob("*.py"):
        in_code |= set(re.findall(r"LIVEBLOG_[A-Z0-9_]+", path.read_text()))
    assert "LIVEBLOG_DATABASE_URL" in in_code, in_code
    guide = GUIDE.read_text()
    match = re.search(r"^## Settings reference\n(.*?)(?=^## |\Z)", guide, re.M | re.S)
    assert match is not None, "docs/deploying.md has no '## Settings reference' section"
    documented = set(re.findall(r"^\| `(LIVEBLOG_[A-Z0-9_]+)`", match.group(1), re.M))
    assert sorted(in_code - documented) == [], "read by the code, missing from the reference"
    assert sorted(documented - in_code) == [], "in the reference, read nowhere in the code"


def test_the_guide_points_at_the_shipped_nginx_config() -> None:
    """docs/deploying.md shows deploy/nginx.conf by reference, and every stream setting the
    guide explains is in that file's stream location."""
    guide = GUIDE.read_text()
    assert "deploy/nginx.conf" in guide
    conf = SHIPPED_CONF.read_text()
    stream = re.search(
        r"location ~ \^/api/blogs/\[\^/\]\+/stream\$ \{(.*?)\n        \}", conf, re.S
    )
    assert stream is not None, "no stream location in deploy/nginx.conf"
    for directive in ("proxy_buffering off;", "proxy_cache off;", "gzip off;"):
        assert directive in stream.group(1), directive
        assert f"`{directive.rstrip(';')}`" in guide, directive
