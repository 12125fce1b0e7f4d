"""A cluster harness for tests: `liveblog serve` nodes as real processes on one database, and a
threaded SSE reader that records every frame and fails over between nodes like a browser would."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from conftest import free_port


class NodeError(RuntimeError):
    """A node did not start, or did not stop as asked."""


class Node:
    """One `liveblog serve` process on a loopback port; its stderr goes to a file we can show."""

    def __init__(self, name: str, database_url: str, workdir: Path, *extra_args: str) -> None:
        self.name = name
        self.database_url = database_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workdir = workdir / f"node-{name}"
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.stderr_path = self.workdir / "stderr.log"
        self.extra_args = extra_args
        self.proc: subprocess.Popen[bytes] | None = None

    def __repr__(self) -> str:
        return f"<Node {self.name} {self.url}>"

    def spawn(self) -> Node:
        command = [
            sys.executable,
            "-m",
            "liveblog",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--database-url",
            self.database_url,
            "--log-level",
            "warning",
            *self.extra_args,
        ]
        env = {**os.environ, "LIVEBLOG_DATA_DIR": str(self.workdir), "PYTHONUNBUFFERED": "1"}
        with self.stderr_path.open("wb") as stderr:
            self.proc = subprocess.Popen(
                command,
                cwd=self.workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=subprocess.STDOUT,
            )
        return self

    def wait_ready(self, timeout: float = 20.0) -> Node:
        """Until GET /healthz answers 200 (GET / where there is no /healthz)."""
        deadline = time.monotonic() + timeout
        path = "/healthz"
        last = "no answer yet"
        with httpx.Client(base_url=self.url, timeout=2) as http:
            while time.monotonic() < deadline:
                if not self.running:
                    raise NodeError(f"node {self.name} exited with {self.returncode}{self.log()}")
                try:
                    response = http.get(path)
                except httpx.TransportError as exc:
                    last = repr(exc)
                else:
                    if response.status_code == 200:
                        return self
                    if response.status_code == 404 and path == "/healthz":
                        path = "/"
                        continue
                    last = f"GET {path} -> {response.status_code} {response.text[:200]}"
                time.sleep(0.05)
        raise NodeError(f"node {self.name} not ready after {timeout} s ({last}){self.log()}")

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def terminate(self, timeout: float = 10.0) -> float:
        """SIGTERM, then wait for the exit; returns the seconds it took."""
        assert self.proc is not None
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise NodeError(
                f"node {self.name} still running {timeout} s after SIGTERM{self.log()}"
            ) from None
        return time.monotonic() - started

    def kill(self) -> None:
        """SIGKILL (kill -9): no cleanup of any kind happens in the node."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def log(self) -> str:
        try:
            text = self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""
        return f"\n--- node {self.name} output ---\n{text[-4000:]}" if text else ""

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(**{"base_url": self.url, "timeout": 10, **kwargs})


class Cluster:
    """Nodes and readers of one test; `close` ends them all, whatever state the test left."""

    def __init__(self, database_url: str, workdir: Path) -> None:
        self.database_url = database_url
        self.workdir = workdir
        self.nodes: list[Node] = []
        self.readers: list[StreamReader] = []
        self.publishers: list[Publisher] = []

    def start(self, *names: str, extra_args: Sequence[str] = ()) -> list[Node]:
        """Start the named nodes side by side and wait until every one is ready."""
        nodes = [Node(name, self.database_url, self.workdir, *extra_args) for name in names]
        self.nodes.extend(nodes)
        for node in nodes:
            node.spawn()
        for node in nodes:
            node.wait_ready()
        return nodes

    def reader(
        self, slug: str, nodes: Sequence[Node], last_event_id: int | None = 0
    ) -> StreamReader:
        """A started reader on nodes[0] that fails over to the following nodes in turn."""
        reader = StreamReader([n.url for n in nodes], slug, last_event_id)
        self.readers.append(reader)
        reader.start()
        return reader

    def publisher(
        self, node: Node, token: str, slug: str, label: str = "entry", *, retry: bool = False
    ) -> Publisher:
        """A started publisher writing entries through `node` until `finish()`."""
        publisher = Publisher(node, token, slug, label, retry=retry)
        self.publishers.append(publisher)
        publisher.start()
        return publisher

    def close(self) -> None:
        for publisher in self.publishers:
            publisher.stop()
        for reader in self.readers:
            reader.stop()
        for node in self.nodes:
            node.kill()
        for reader in self.readers:
            reader.join(5)


# --- the reader -------------------------------------------------------------------------------


@dataclass
class StreamFrame:
    """One dispatched SSE frame (comments are not frames), with where and when it arrived."""

    id: int | None
    event: str | None
    data: str
    retry: int | None
    url: str
    at: float

    @property
    def json(self) -> Any:
        return json.loads(self.data)


@dataclass
class Connection:
    """One HTTP request of a reader: which node, what it answered, what it carried, how it ended."""

    url: str
    last_event_id: int | None
    status: int | None = None
    frames: list[StreamFrame] = field(default_factory=list)
    ended: str | None = None
    """"eof", "error: …", "refused" or "stopped"."""


class StreamReader(threading.Thread):
    """Reads a blog's stream over a raw socket, records every frame, and on the end of a
    connection reconnects at once (the retry hint is recorded, not waited for) to the next node
    in its list with `Last-Event-ID` set to the last id it saw."""

    def __init__(self, urls: Sequence[str], slug: str, last_event_id: int | None = 0) -> None:
        super().__init__(daemon=True, name=f"sse-reader-{slug}")
        self.urls = list(urls)
        self.slug = slug
        self.last_id = last_event_id
        self.connections: list[Connection] = []
        self.changed = threading.Condition()
        self._halt = threading.Event()

    # --- what the test asks -----------------------------------------------------------------

    @property
    def frames(self) -> list[StreamFrame]:
        with self.changed:
            return [f for c in self.connections for f in c.frames]

    @property
    def events(self) -> list[StreamFrame]:
        return [f for f in self.frames if f.id is not None]

    @property
    def ids(self) -> list[int]:
        return [f.id for f in self.events if f.id is not None]

    def wait_until(self, check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        with self.changed:
            while not check():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"reader waited {timeout} s for {what}: {self.summary()}")
                self.changed.wait(min(left, 0.1))

    def wait_connected(self, timeout: float = 10.0) -> None:
        """Until the current connection has answered 200 and sent its first frame."""

        def connected() -> bool:
            last = self.connections[-1] if self.connections else None
            return last is not None and last.status == 200 and bool(last.frames)

        self.wait_until(connected, "a connection", timeout)

    def wait_for(self, seq: int, timeout: float = 10.0) -> None:
        """Until the reader has seen the event with id `seq` (or a later one)."""
        self.wait_until(lambda: (self.last_id or 0) >= seq, f"seq {seq}", timeout)

    def stop(self) -> None:
        self._halt.set()

    def summary(self) -> str:
        parts = []
        for c in self.connections:
            ids = [f.id for f in c.frames if f.id is not None]
            span = f"{ids[0]}..{ids[-1]} ({len(ids)})" if ids else "none"
            parts.append(f"[{c.url} from {c.last_event_id}: {c.status} ids {span} {c.ended}]")
        return f"last id {self.last_id}; " + " ".join(parts)

    # --- the thread --------------------------------------------------------------------------

    def run(self) -> None:
        index = 0
        while not self._halt.is_set():
            connection = Connection(self.urls[index], self.last_id)
            with self.changed:
                self.connections.append(connection)
            try:
                self._read(connection)
            except ConnectionRefusedError:
                connection.ended = "refused"
            except OSError as exc:
                connection.ended = f"error: {exc!r}"
            with self.changed:
                self.changed.notify_all()
            if self._halt.is_set():
                break
            index = (index + 1) % len(self.urls)
            self._halt.wait(0.05)

    def _read(self, connection: Connection) -> None:
        host, port = connection.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.settimeout(0.2)
            header = f"Last-Event-ID: {self.last_id}\r\n" if self.last_id is not None else ""
            request = (
                f"GET /api/blogs/{self.slug}/stream HTTP/1.1\r\nHost: {host}:{port}\r\n"
                f"Accept: text/event-stream\r\nCache-Control: no-cache\r\n{header}\r\n"
            )
            sock.sendall(request.encode())
            chunks = self._received(sock, connection)
            head = b""
            for chunk in chunks:
                head += chunk
                if b"\r\n\r\n" in head:
                    break
            else:
                return
            head, _, rest = head.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            connection.status = int(lines[0].split()[1])
            headers = {
                k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])
            }
            with self.changed:
                self.changed.notify_all()
            if connection.status != 200:
                connection.ended = connection.ended or "eof"
                return
            body: Iterator[bytes] = _chain(rest, chunks)
            if headers.get("transfer-encoding", "").lower() == "chunked":
                body = _dechunk(body)
            self._parse(body, connection)
            connection.ended = connection.ended or "eof"

    def _received(self, sock: socket.socket, connection: Connection) -> Iterator[bytes]:
        while True:
            if self._halt.is_set():
                connection.ended = "stopped"
                return
            try:
                data = sock.recv(65536)
            except TimeoutError:
                continue
            if not data:
                connection.ended = "eof"
                return
            yield data

    def _parse(self, body: Iterator[bytes], connection: Connection) -> None:
        buffer = b""
        fields: dict[str, list[str]] = {}
        for data in body:
            buffer += data
            *lines, buffer = buffer.split(b"\n")
            for raw in lines:
                line = raw.removesuffix(b"\r").decode()
                if line == "":
                    if fields:
                        self._dispatch(fields, connection)
                    fields = {}
                elif not line.startswith(":"):
                    name, _, value = line.partition(":")
                    fields.setdefault(name, []).append(value.removeprefix(" "))

    def _dispatch(self, fields: dict[str, list[str]], connection: Connection) -> None:
        ident = fields.get("id", [None])[-1]
        retry = fields.get("retry", [None])[-1]
        frame = StreamFrame(
            id=int(ident) if ident is not None else None,
            event=fields.get("event", [None])[-1],
            data="\n".join(fields.get("data", [])),
            retry=int(retry) if retry is not None else None,
            url=connection.url,
            at=time.monotonic(),
        )
        with self.changed:
            connection.frames.append(frame)
            if frame.id is not None:
                self.last_id = frame.id
            self.changed.notify_all()


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest


def _dechunk(raw: Iterator[bytes]) -> Iterator[bytes]:
    """HTTP/1.1 chunked transfer decoding, incrementally; ends at the zero-length chunk."""
    buffer = b""
    for data in raw:
        buffer += data
        while True:
            size_line, sep, rest = buffer.partition(b"\r\n")
            if not sep:
                break
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                return
            if len(rest) < size + 2:
                break
            yield rest[:size]
            buffer = rest[size + 2 :]


# --- setup and the log --------------------------------------------------------------------


def editor_token(database_url: str, name: str = "eddie") -> str:
    """An editor and an API token, written straight to the database before any node starts."""
    from liveblog.broadcast.base import NullHub
    from liveblog.domain.models import Role
    from liveblog.service import Liveblog
    from liveblog.storage.sql import SqlStore

    store = SqlStore(database_url)
    try:
        svc = Liveblog(store, NullHub())
        svc.create_user(name, Role.EDITOR, "editor-password")
        return svc.create_token(name)
    finally:
        store.close()


def event_log(http: httpx.Client, slug: str) -> list[dict[str, Any]]:
    """The whole event log of a blog through GET /api/blogs/{slug}/events, page by page."""
    events: list[dict[str, Any]] = []
    after = 0
    while True:
        response = http.get(f"/api/blogs/{slug}/events", params={"after": after, "limit": 500})
        assert response.status_code == 200, response.text
        page = response.json()
        events.extend(page["events"])
        if page["next"] is None or page["next"] >= page["seq"] or not page["events"]:
            return events
        after = page["next"]


class Publisher(threading.Thread):
    """Publishes entries through one node back to back until stopped; keeps what it created."""

    def __init__(
        self, node: Node, token: str, slug: str, label: str = "entry", *, retry: bool = False
    ) -> None:
        super().__init__(daemon=True, name=f"publisher-{node.name}")
        self.retry = retry
        """Carry on after a dropped connection (the process behind it died), as a desk would;
        whether that one entry was committed shows in the log, which is what tests compare."""
        self.dropped = 0
        self.node = node
        self.token = token
        self.slug = slug
        self.label = label
        self.entry_ids: list[int] = []
        self.error: BaseException | None = None
        self._halt = threading.Event()

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        try:
            with self.node.client(headers=headers) as http:
                while not self._halt.is_set():
                    body = f"{self.label} {len(self.entry_ids) + 1}"
                    try:
                        response = http.post(f"/api/blogs/{self.slug}/entries", json={"body": body})
                    except httpx.TransportError:
                        if not self.retry:
                            raise
                        self.dropped += 1
                        continue
                    assert response.status_code == 201, response.text
                    self.entry_ids.append(response.json()["id"])
        except BaseException as exc:
            self.error = exc

    def wait_count(self, count: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.entry_ids) < count:
            if self.error is not None or time.monotonic() > deadline:
                raise AssertionError(f"published {len(self.entry_ids)} of {count}: {self.error!r}")
            time.sleep(0.01)

    def stop(self) -> None:
        self._halt.set()

    def finish(self) -> list[int]:
        """Stop, wait, and re-raise in the test whatever went wrong in the thread."""
        self._halt.set()
        self.join(15)
        if self.error is not None:
            raise AssertionError(f"publishing through {self.node.name} failed") from self.error
        return self.entry_ids
