"""Readers that stop reading are cut off and never hold back the others; readers far behind
catch up at their own pace and cost a bounded buffer. Every test runs on both writers: the
socket writer `liveblog serve` uses for fresh connections and the portable ASGI one."""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path

import httpx
import pytest

from conftest import LiveServer, Tokens, auth
from sse import take

SLUG = "storm"


ID_LINE = re.compile(rb"(?m)^id: (\d+)\n")


def complete_ids(data: bytes) -> list[int]:
    """The ids of the frames received so far whose id line has arrived whole (a read may end
    in the middle of one)."""
    return [int(n) for n in ID_LINE.findall(data)]


def phone(url: str, receive_buffer: int) -> socket.socket:
    """A connection like a phone's: a small receive window, and segments of a real network's
    size rather than loopback's 64 KiB (with those the server's kernel would buffer megabytes
    for the reader, hidden from the server on the ASGI path, which cannot shrink it)."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 1400)
    sock.connect((host, int(port)))
    return sock


def raw_reader(url: str) -> socket.socket:
    """A reader that sends the request and then never reads: a tiny receive window, so the
    server's own buffers are what fill up."""
    sock = phone(url, 4096)
    sock.sendall(f"GET /api/blogs/{SLUG}/stream HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    return sock


def was_cut_off(sock: socket.socket) -> bool:
    """Drain what the kernel holds; a cut-off reader then sees a reset or the end of stream."""
    sock.settimeout(2)
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True


@pytest.fixture(params=["socket", "asgi"])
def writer(request: pytest.FixtureRequest) -> str:
    """Which writer carries the streams of the server the test starts."""
    return str(request.param)


def start(db_url: str, tmp_path: Path, writer: str, **settings: object) -> LiveServer:
    return LiveServer(db_url, tmp_path, fast_stream=writer == "socket", **settings).start()


def test_reader_over_the_buffer_limit_is_cut_off_others_get_everything(
    db_url: str, tmp_path: Path, team: object, tokens: Tokens, writer: str
) -> None:
    """Past 64 KiB unsent a stalled reader is disconnected; a reader that reads misses nothing."""
    server = start(db_url, tmp_path, writer, reader_buffer_bytes=64 * 1024)
    try:
        with httpx.Client(base_url=server.url, headers=auth(tokens.editor), timeout=10) as http:
            http.post("/api/blogs", json={"slug": SLUG, "title": "Storm"})
            stalled = raw_reader(server.url)
            with (
                httpx.Client(base_url=server.url, timeout=10) as fresh,
                fresh.stream("GET", f"/api/blogs/{SLUG}/stream") as healthy,
            ):
                time.sleep(0.2)
                body = "word " * 8_000  # ~40 KB of Markdown, ~80 KB per frame with its html
                got = []
                for _ in range(12):  # the healthy reader reads as entries come
                    r = http.post(f"/api/blogs/{SLUG}/entries", json={"body": body})
                    assert r.status_code == 201
                    got += take(healthy, 1)
            assert [f.id for f in got] == list(range(1, 13))
            assert was_cut_off(stalled)
    finally:
        server.stop()


def test_reader_whose_socket_never_drains_is_cut_off_after_the_stall_time(
    db_url: str, tmp_path: Path, team: object, tokens: Tokens, writer: str
) -> None:
    """A reader with little unsent data but no progress for the stall time is disconnected."""
    server = start(db_url, tmp_path, writer, stall_seconds=0.5, keepalive_seconds=0.2)
    try:
        with httpx.Client(base_url=server.url, headers=auth(tokens.editor), timeout=10) as http:
            http.post("/api/blogs", json={"slug": SLUG, "title": "Storm"})
            stalled = raw_reader(server.url)
            time.sleep(0.2)
            # Six frames of about 40 KB: more than the kernel (about 72 KB towards a 4 KiB
            # window) and the ASGI path's transport buffer (64 KiB) hold together, so a send
            # must wait — yet under the 256 KiB limit in total, so only the stall can cut it
            # off. (Three frames fitted in those buffers whenever the kernel grew its share.)
            body = "word " * 4_000
            for _ in range(6):
                http.post(f"/api/blogs/{SLUG}/entries", json={"body": body})
            deadline = time.monotonic() + 5
            while server.app.state.hub.reader_count() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert server.app.state.hub.reader_count() == 0
            assert was_cut_off(stalled)
    finally:
        server.stop()


def test_reader_far_behind_catches_up_without_being_cut_off(
    db_url: str, tmp_path: Path, team: object, tokens: Tokens, writer: str
) -> None:
    """A reader returning 1,200 entries behind (over 1 MB, past both the hub's memory and the
    64 KiB live limit) gets every missed entry once, in order, then live ones, at its own pace."""
    server = start(db_url, tmp_path, writer, reader_buffer_bytes=64 * 1024)
    try:
        with httpx.Client(base_url=server.url, headers=auth(tokens.editor), timeout=10) as http:
            http.post("/api/blogs", json={"slug": SLUG, "title": "Storm"})
            svc = server.svc
            editor = svc.user_for_token(tokens.editor)
            for n in range(1, 1201):
                svc.create_entry(editor, SLUG, body=f"entry {n} " + "word " * 150)
            sock = phone(server.url, 16384)
            sock.sendall(
                f"GET /api/blogs/{SLUG}/stream HTTP/1.1\r\nHost: x\r\n"
                "Last-Event-ID: 0\r\n\r\n".encode()
            )
            sock.settimeout(10)
            data = b""
            live_sent = False
            while len(complete_ids(data)) < 1201:
                time.sleep(0.002)  # a slow phone
                chunk = sock.recv(8192)
                assert chunk, "the server cut the catching-up reader off"
                data += chunk
                if not live_sent and len(complete_ids(data)) > 600:
                    http.post(f"/api/blogs/{SLUG}/entries", json={"body": "live one"})
                    live_sent = True
            sock.close()
        ids = complete_ids(data)
        assert ids == list(range(1, 1202))
    finally:
        server.stop()


def unsent_on_server(server: LiveServer) -> int:
    """Bytes the server process holds for its connections that their sockets have not taken."""
    connections = list(server.server.server_state.connections)
    transports = [getattr(c, "transport", None) for c in connections]
    return sum(t.get_write_buffer_size() for t in transports if t is not None)


# About 20 s per writer (1,200 entries written, then a reader draining 2 MB at a phone's pace):
# a long fault run, so `make chaos` runs it (CI too), keeping `make test` within its budget.
@pytest.mark.chaos
def test_a_stalled_reader_far_behind_costs_a_bounded_buffer(
    db_url: str, tmp_path: Path, team: object, tokens: Tokens, writer: str
) -> None:
    """A reader 1,200 entries (about 2 MB of frames) behind that reads nothing makes the server
    hold a piece of the replay, not the whole gap; once it reads, it gets every entry once."""
    server = start(db_url, tmp_path, writer)
    try:
        with httpx.Client(base_url=server.url, headers=auth(tokens.editor), timeout=10) as http:
            http.post("/api/blogs", json={"slug": SLUG, "title": "Storm"})
        svc = server.svc
        editor = svc.user_for_token(tokens.editor)
        for n in range(1, 1201):
            svc.create_entry(editor, SLUG, body=f"entry {n} " + "word " * 150)
        sock = phone(server.url, 4096)
        sock.sendall(
            f"GET /api/blogs/{SLUG}/stream HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 0\r\n\r\n".encode()
        )
        time.sleep(1.5)  # ample time to read and write the whole gap, were it not paced
        held = unsent_on_server(server)
        assert held < 256 * 1024, f"the server holds {held:,} bytes for a reader that reads nothing"
        sock.settimeout(10)
        data = b""
        while len(complete_ids(data)) < 1200:
            chunk = sock.recv(65536)
            assert chunk, "the server closed the stream before the replay was done"
            data += chunk
        sock.close()
        ids = complete_ids(data)
        assert ids == list(range(1, 1201))
    finally:
        server.stop()
