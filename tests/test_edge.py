"""The edge holds against one hostile client (web/edge.py), on the lean path and through ASGI:
slow heads, a head that never ends, an oversized head, too many streams, and a client that
takes every file descriptor; each time another address is still served, and the limit is
logged. Clients are told apart by binding their sockets to different loopback addresses."""

from __future__ import annotations

import contextlib
import logging
import os
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from liveblog.broadcast.base import NullHub
from liveblog.service import Liveblog
from liveblog.storage.sql import SqlStore

from conftest import LiveServer, Team, free_port
from sse import take

SLUG = "election-night"
PARTIAL = b"GET /blogs/election-night HTTP/1.1\r\nHost: t\r\n"  # a head that never ends
# The lean path and the ASGI path under the subclass protocol, and the composition protocol.
PATHS = pytest.mark.parametrize(
    "mode",
    [{"fast_stream": True}, {"fast_stream": False}, {"http_protocol": "composition"}],
    ids=["lean", "asgi", "composition"],
)


@pytest.fixture
def serve(
    db_url: str, tmp_path: Path, svc: Liveblog, team: Team
) -> Iterator[Callable[..., LiveServer]]:
    """Start a server on the test's database (one live blog in it) with some settings set."""
    svc.create_blog(team.editor, slug=SLUG, title="Election night")
    started: list[LiveServer] = []

    def start(**settings: object) -> LiveServer:
        server = LiveServer(db_url, tmp_path / f"s{len(started)}", **settings).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def connect(port: int, source: str, timeout: float = 5.0) -> socket.socket:
    sock = socket.socket()
    sock.bind((source, 0))
    sock.settimeout(timeout)
    sock.connect(("127.0.0.1", port))
    return sock


def answer(sock: socket.socket, timeout: float = 5.0) -> bytes:
    """Everything the server sends until it closes the connection (or `timeout`)."""
    sock.settimeout(timeout)
    data = b""
    with contextlib.suppress(TimeoutError, ConnectionResetError):
        while chunk := sock.recv(65536):
            data += chunk
    return data


def state(sock: socket.socket) -> str:
    """'open' if the server neither answered nor closed, else its status line ('closed' if
    it closed without a word)."""
    sock.setblocking(False)
    try:
        data = sock.recv(65536)
    except BlockingIOError:
        return "open"
    except ConnectionResetError:
        return "closed"
    finally:
        sock.setblocking(True)
    return data.split(b"\r\n", 1)[0].decode() if data else "closed"


def served(url: str, server: LiveServer | None = None, team: Team | None = None) -> None:
    """Another address (127.0.0.1) gets the page and a stream (that delivers an entry, when
    the server is in this process)."""
    with httpx.Client(base_url=url, timeout=10) as http:
        page = http.get(f"/blogs/{SLUG}")
        assert page.status_code == 200 and "Election night" in page.text
        with http.stream("GET", f"/api/blogs/{SLUG}/stream") as stream:
            assert stream.status_code == 200
            if server is not None and team is not None:
                server.svc.create_entry(team.editor, SLUG, body="Still here")
                (frame,) = take(stream, 1)
                assert "Still here" in frame.data


def refusals(caplog: pytest.LogCaptureFixture, limit: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if f"edge limit {limit}:" in r.getMessage()]


@PATHS
def test_slow_heads_past_the_cap_are_refused_while_another_address_is_served(
    serve: Callable[..., LiveServer],
    team: Team,
    caplog: pytest.LogCaptureFixture,
    mode: dict[str, object],
) -> None:
    """One address opening more unfinished heads than its cap gets 408 for the ones past it,
    keeps the rest, and can still send a prompt request; another address gets its page and
    its stream the whole time; the refusal is logged."""
    caplog.set_level(logging.WARNING, "liveblog.web.edge")
    server = serve(**mode, slow_heads_per_address=20, slow_head_seconds=0.3)
    slow = [connect(server.port, "127.0.0.2") for _ in range(30)]
    try:
        for sock in slow:
            sock.sendall(PARTIAL)
        time.sleep(1.0)  # past slow_head_seconds for every one of them
        states = [state(sock) for sock in slow]
        assert states.count("HTTP/1.1 408 Request Timeout") == 10, states
        assert states.count("open") == 20, states
        served(server.url, server, team)
        with connect(server.port, "127.0.0.2") as prompt:  # a whole head is never slow
            prompt.sendall(PARTIAL + b"Connection: close\r\n\r\n")
            assert answer(prompt).startswith(b"HTTP/1.1 200 OK")
    finally:
        for sock in slow:
            sock.close()
    assert server.app.state.edge.refused["slow_heads_per_address"] == 10
    assert refusals(caplog, "slow_heads_per_address"), caplog.text


@PATHS
def test_a_head_that_does_not_arrive_in_time_is_a_408(
    serve: Callable[..., LiveServer], caplog: pytest.LogCaptureFixture, mode: dict[str, object]
) -> None:
    """A connection that sends a partial head, or nothing, or starts a second request on a
    kept-alive connection and stalls, gets 408 after the head deadline and is closed (the
    composition protocol closes the kept-alive one without a word, see web/front.py)."""
    caplog.set_level(logging.WARNING, "liveblog.web.edge")
    server = serve(**mode, head_timeout_seconds=0.6, slow_head_seconds=0.2)
    with (
        connect(server.port, "127.0.0.2") as partial,
        connect(server.port, "127.0.0.2") as silent,
        connect(server.port, "127.0.0.3") as kept,
    ):
        started = time.monotonic()
        partial.sendall(PARTIAL)
        kept.sendall(PARTIAL + b"\r\n")
        first = b""
        while b"</html>" not in first:
            first += kept.recv(65536)
        assert first.startswith(b"HTTP/1.1 200 OK")
        kept.sendall(PARTIAL)
        for sock in (partial, silent, kept):
            data = answer(sock)
            if sock is kept and mode.get("http_protocol") == "composition":
                assert data == b""  # uvicorn's own protocol has that connection: only closed
                continue
            assert data.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), data
            assert b"\r\nconnection: close\r\n" in data and b"\r\ndate: " in data
        assert 0.5 < time.monotonic() - started < 4
    assert refusals(caplog, "head_timeout"), caplog.text


@PATHS
def test_a_head_over_the_size_limit_is_a_431(
    serve: Callable[..., LiveServer], caplog: pytest.LogCaptureFixture, mode: dict[str, object]
) -> None:
    """With the default limit (32 KiB) a 30 KiB head is answered, a 40 KiB one is refused
    with 431, and a header that never ends is refused once it passes the limit, without
    waiting for its end."""
    caplog.set_level(logging.WARNING, "liveblog.web.edge")
    server = serve(**mode)
    for size, status in ((30 * 1024, b"200 OK"), (40 * 1024, b"431 ")):
        with connect(server.port, "127.0.0.2") as sock:
            sock.sendall(PARTIAL + b"X-Big: " + b"a" * size + b"\r\nConnection: close\r\n\r\n")
            assert answer(sock).startswith(b"HTTP/1.1 " + status), size
    with connect(server.port, "127.0.0.2") as sock:
        sock.sendall(PARTIAL + b"X-Endless: " + b"a" * (100 * 1024))  # 16 MiB would follow
        data = answer(sock)
        assert data.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"), data
    assert server.app.state.edge.refused["max_head_bytes"] == 2
    served(server.url)
    assert refusals(caplog, "max_head_bytes"), caplog.text


@PATHS
def test_streams_past_the_per_address_cap_get_429(
    serve: Callable[..., LiveServer], caplog: pytest.LogCaptureFixture, mode: dict[str, object]
) -> None:
    """With LIVEBLOG_STREAMS_PER_ADDRESS=2 a third stream from one address is refused with 429
    and Retry-After, another address still streams, and a closed stream frees its place."""
    caplog.set_level(logging.WARNING, "liveblog.web.edge")
    server = serve(**mode, streams_per_address=2)
    edge = server.app.state.edge
    request = f"GET /api/blogs/{SLUG}/stream HTTP/1.1\r\nHost: t\r\n\r\n".encode()
    held = [connect(server.port, "127.0.0.2") for _ in range(2)]
    try:
        for sock in held:
            sock.sendall(request)
            assert sock.recv(65536).startswith(b"HTTP/1.1 200 OK")
        with connect(server.port, "127.0.0.2") as third:
            third.sendall(request)
            refused = answer(third)
        assert refused.startswith(b"HTTP/1.1 429 Too Many Requests\r\n"), refused
        assert b"\r\nretry-after: 5\r\n" in refused
        with connect(server.port, "127.0.0.3") as other:
            other.sendall(request)
            assert other.recv(65536).startswith(b"HTTP/1.1 200 OK")
        held.pop().close()
        deadline = time.monotonic() + 5
        while edge.streams.get("127.0.0.2") != 1:
            assert time.monotonic() < deadline, edge.streams
            time.sleep(0.02)
        with connect(server.port, "127.0.0.2") as again:
            again.sendall(request)
            assert again.recv(65536).startswith(b"HTTP/1.1 200 OK")
    finally:
        for sock in held:
            sock.close()
    assert refusals(caplog, "streams_per_address"), caplog.text


@PATHS
def test_behind_a_trusted_proxy_streams_are_counted_per_forwarded_client(
    serve: Callable[..., LiveServer], mode: dict[str, object]
) -> None:
    """Through a proxy listed in LIVEBLOG_TRUSTED_PROXIES each X-Forwarded-For client has its
    own stream cap; from any other peer the header is ignored and the peer is counted."""
    server = serve(**mode, streams_per_address=1, trusted_proxies="127.0.0.1")

    def stream(source: str, client: str) -> tuple[socket.socket, bytes]:
        sock = connect(server.port, source)
        sock.sendall(
            f"GET /api/blogs/{SLUG}/stream HTTP/1.1\r\nHost: t\r\n"
            f"X-Forwarded-For: {client}\r\n\r\n".encode()
        )
        return sock, sock.recv(65536).split(b"\r\n", 1)[0]

    opened = [stream("127.0.0.1", "203.0.113.1"), stream("127.0.0.1", "203.0.113.1")]
    opened += [stream("127.0.0.1", "203.0.113.2")]
    opened += [stream("127.0.0.2", "203.0.113.3"), stream("127.0.0.2", "203.0.113.4")]
    try:
        statuses = [status for _, status in opened]
        ok, busy = b"HTTP/1.1 200 OK", b"HTTP/1.1 429 Too Many Requests"
        assert statuses == [ok, busy, ok, ok, busy], statuses
    finally:
        for sock, _ in opened:
            sock.close()


@pytest.mark.parametrize("protocol", ["subclass", "composition"])
def test_prompt_heads_from_one_address_are_never_counted_as_slow(
    serve: Callable[..., LiveServer], protocol: str
) -> None:
    """300 readers reconnecting at once from one address, ten times the slow-head cap, all get
    their stream: only heads still unfinished after slow_head_seconds count."""
    server = serve(slow_heads_per_address=30, http_protocol=protocol)
    request = f"GET /api/blogs/{SLUG}/stream HTTP/1.1\r\nHost: t\r\n\r\n".encode()
    storm = [connect(server.port, "127.0.0.2") for _ in range(300)]
    try:
        for sock in storm:
            sock.sendall(request)
        heads = [sock.recv(65536).split(b"\r\n", 1)[0] for sock in storm]
        assert set(heads) == {b"HTTP/1.1 200 OK"}
        assert server.app.state.edge.refused == {}
    finally:
        for sock in storm:
            sock.close()


# --- the descriptor reserve, in a real server process with a small open-files limit ----------

FD_LIMIT = 400


@pytest.fixture(params=["subclass", "composition"])
def small_node(
    db_url: str, tmp_path: Path, team: Team, request: pytest.FixtureRequest
) -> Iterator[tuple[str, Path]]:
    """`liveblog serve` with default edge settings, in a process allowed FD_LIMIT open files
    (soft and hard), so one client can reach the limit with a few hundred connections."""
    store = SqlStore(db_url)
    svc = Liveblog(store, NullHub())
    svc.create_blog(team.editor, slug=SLUG, title="Election night")
    store.close()
    port = free_port()
    log_path = tmp_path / "node.log"

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))

    command = [sys.executable, "-m", "liveblog", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--database-url", db_url, "--log-level", "warning"]
    env = {**os.environ, "LIVEBLOG_DATA_DIR": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    env["LIVEBLOG_HTTP_PROTOCOL"] = request.param
    with log_path.open("wb") as out:
        proc = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, preexec_fn=limit
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, log_path.read_text()
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.05)
        yield url, log_path
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def test_one_address_holding_every_descriptor_leaves_healthz_and_others_served(
    small_node: tuple[str, Path],
) -> None:
    """One address opening more slow connections than the process may hold files (the probe's
    attack, scaled to a 400-file limit) is refused with 503 once the last quarter is reached,
    while /healthz, a page and a stream from another address are answered; the node logs it."""
    url, log_path = small_node
    port = int(url.rsplit(":", 1)[1])
    flood: list[socket.socket] = []
    try:
        for _ in range(FD_LIMIT + 50):
            sock = connect(port, "127.0.0.2")
            sock.sendall(PARTIAL)
            flood.append(sock)
        time.sleep(0.5)
        states = [state(sock) for sock in flood]
        refused = states.count("HTTP/1.1 503 Service Unavailable") + states.count("closed")
        assert states.count("open") + refused == len(flood), set(states)
        assert states.count("HTTP/1.1 503 Service Unavailable") > 0, set(states)
        assert FD_LIMIT // 2 < states.count("open") < FD_LIMIT, states.count("open")
        with httpx.Client(base_url=url, timeout=10) as http:
            assert http.get("/healthz").status_code == 200
        served(url)
    finally:
        for sock in flood:
            sock.close()
    assert "edge limit fd_reserve: refused 127.0.0.2" in log_path.read_text()
