"""Responses written outside ASGI (the page from memory, the lean stream writer, the edge's
refusals) carry the same headers as the ones ASGI writes: a server with the fast path and one
without it answer the same requests, and the header names and status lines are compared.

Only `transfer-encoding` may differ: it frames a body of unknown length, which ASGI sends
chunked and the lean writer ends by closing the connection.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from uvicorn.protocols.http.httptools_impl import STATUS_LINE

from liveblog.service import Liveblog
from liveblog.web.headers import status_line

from conftest import LiveServer, Team

SLUG = "election-night"
ENDED = "last-night"
FRAMING = {"transfer-encoding"}
# The fast path as a subclass of uvicorn's protocol and in front of it, and no fast path.
MODES: dict[str, dict[str, object]] = {
    "fast": {},
    "composition": {"http_protocol": "composition"},
    "asgi": {"fast_stream": False},
}
FAST = ("fast", "composition")


@dataclass
class Head:
    status: str
    names: list[str]
    values: dict[str, str]


def read_head(sock: socket.socket) -> Head:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before the head ended: {data!r}"
        data += chunk
    lines = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    pairs = [line.split(":", 1) for line in lines[1:]]
    values = {name.lower(): value.strip() for name, value in pairs}
    return Head(lines[0], sorted(name.lower() for name, _ in pairs), values)


@contextlib.contextmanager
def connection(port: int, source: str) -> Iterator[socket.socket]:
    with socket.socket() as sock:
        sock.bind((source, 0))  # each case its own loopback address: no limit is shared
        sock.settimeout(5)
        sock.connect(("127.0.0.1", port))
        yield sock


def ask(port: int, target: str, source: str, *headers: str) -> Head:
    request = "".join(f"{h}\r\n" for h in (f"GET {target} HTTP/1.1", "Host: t", *headers))
    with connection(port, source) as sock:
        sock.sendall(request.encode() + b"\r\n")
        return read_head(sock)


@pytest.fixture
def servers(
    db_url: str, tmp_path: Path, svc: Liveblog, team: Team
) -> Iterator[dict[str, LiveServer]]:
    """The same database served with the fast path (by either protocol) and without it
    (everything through ASGI), each with a cap of one stream per address, so the cap's
    refusal can be compared too."""
    svc.create_blog(team.editor, slug=SLUG, title="Election night")
    svc.create_entry(team.editor, SLUG, body="Polls open")
    svc.create_blog(team.editor, slug=ENDED, title="Last night")
    svc.update_blog(team.editor, ENDED, {"status": "ended"})
    started: dict[str, LiveServer] = {}
    try:
        for name, settings in MODES.items():
            started[name] = LiveServer(
                db_url, tmp_path / name, streams_per_address=1, **settings
            ).start()
        yield started
    finally:
        for server in started.values():
            server.stop()


def test_status_lines_are_uvicorns_for_every_code() -> None:
    """The head builder writes the status line uvicorn would for every code, so a 422 goes
    out as "422 Unprocessable Entity" whichever path answers it."""
    for status in range(100, 600):
        assert status_line(status) == STATUS_LINE[status], status
    assert status_line(422) == b"HTTP/1.1 422 Unprocessable Entity\r\n"


def test_page_and_304_carry_the_same_headers_on_both_paths(
    servers: dict[str, LiveServer],
) -> None:
    """The page from memory and its 304 have the header names of the rendered page, date and
    server included."""
    asgi = servers["asgi"]
    target = f"/blogs/{SLUG}"
    for name in FAST:  # rendered once through ASGI, then kept in memory
        ask(servers[name].port, target, "127.0.0.2")
    page = {name: ask(s.port, target, "127.0.0.2") for name, s in servers.items()}
    assert [servers[name].app.state.page_cache.served_from_memory for name in FAST] == [1, 1]
    _same(page)
    assert page["fast"].status == "HTTP/1.1 200 OK"
    assert "date" in page["fast"].names and "content-security-policy" in page["fast"].names
    etag = page["fast"].values["etag"]
    assert etag == page["asgi"].values["etag"]
    revalidated = {
        name: ask(s.port, target, "127.0.0.2", f"If-None-Match: {etag}")
        for name, s in servers.items()
    }
    assert [servers[name].app.state.page_cache.served_from_memory for name in FAST] == [2, 2]
    _same(revalidated)
    assert revalidated["fast"].status == "HTTP/1.1 304 Not Modified"
    assert asgi.app.state.page_cache.served_from_memory == 0


def test_stream_and_its_204_carry_the_same_headers_on_both_paths(
    servers: dict[str, LiveServer],
) -> None:
    """A stream's head, and the 204 that tells an up-to-date reader of an ended blog to stop,
    have the same header names on the lean writer and through ASGI."""
    fast = servers["fast"]
    stream = {n: ask(s.port, f"/api/blogs/{SLUG}/stream", "127.0.0.3") for n, s in servers.items()}
    assert [servers[name].app.state.edge.lean_streams for name in FAST] == [1, 1]
    _same(stream)
    assert stream["fast"].status == "HTTP/1.1 200 OK"
    seq = fast.svc.blog(ENDED).seq
    done = {
        n: ask(s.port, f"/api/blogs/{ENDED}/stream", "127.0.0.4", f"Last-Event-ID: {seq}")
        for n, s in servers.items()
    }
    _same(done)
    assert done["fast"].status == "HTTP/1.1 204 No Content"


def test_errors_carry_the_same_headers_on_both_paths(servers: dict[str, LiveServer]) -> None:
    """A stream of a blog that does not exist (404) and a stream over the per-address cap
    (429) are answered with the same status line and header names by both paths."""
    missing = {
        n: ask(s.port, "/api/blogs/no-such-blog/stream", "127.0.0.5") for n, s in servers.items()
    }
    _same(missing)
    assert missing["fast"].status == "HTTP/1.1 404 Not Found"
    over = {}
    for name, server in servers.items():
        with connection(server.port, "127.0.0.6") as held:
            held.sendall(f"GET /api/blogs/{SLUG}/stream HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            assert read_head(held).status == "HTTP/1.1 200 OK"
            over[name] = ask(server.port, f"/api/blogs/{SLUG}/stream", "127.0.0.6")
    _same(over)
    assert over["fast"].status == "HTTP/1.1 429 Too Many Requests"
    assert over["fast"].values["retry-after"] == over["asgi"].values["retry-after"]


def _same(heads: dict[str, Head]) -> None:
    """Each fast path's head has the status line and header names of the ASGI one."""
    asgi = heads["asgi"]
    for name in FAST:
        assert heads[name].status == asgi.status, name
        assert [n for n in heads[name].names if n not in FRAMING] == [
            n for n in asgi.names if n not in FRAMING
        ], (name, heads[name], asgi)
