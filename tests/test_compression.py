"""The app compresses what it sends when no proxy does it for it: pages (also the page written
from memory), JSON, feeds, styles and scripts, in brotli or gzip as the client accepts, with
`Vary: Accept-Encoding` — and never the event stream or a page carrying a CSRF token."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import brotli
import httpx
import pytest

from liveblog.web.compression import choose

from conftest import LiveServer, Team, Tokens, auth

SLUG = "storm-desk"
BODY = "The river rose above the flood barrier overnight; the ring road is closed. " * 6


@pytest.fixture(params=["fast", "asgi"])
def server(
    request: pytest.FixtureRequest, db_url: str, tmp_path: Path, team: Team
) -> Iterator[LiveServer]:
    """The app with its page-from-memory path, and without it (every page through ASGI)."""
    live = LiveServer(db_url, tmp_path, fast_stream=request.param == "fast").start()
    token = live.svc.create_token(team.editor.name)
    with httpx.Client(base_url=live.url, headers=auth(token)) as http:
        assert http.post("/api/blogs", json={"slug": SLUG, "title": "Storm desk"}).is_success
        for n in range(8):
            http.post(f"/api/blogs/{SLUG}/entries", json={"body": f"{n}: {BODY}"})
    yield live
    live.stop()


def raw(
    url: str, path: str, accept: str | None, method: str = "GET"
) -> tuple[httpx.Response, bytes]:
    """The response and its body as sent (not decoded), on a fresh connection each time."""
    with httpx.Client(base_url=url, timeout=10) as client:
        client.headers.pop("accept-encoding")  # httpx's own default would ask for all three
        headers = {} if accept is None else {"Accept-Encoding": accept}
        with client.stream(method, path, headers=headers) as response:
            return response, b"".join(response.iter_raw())


def decoded(response: httpx.Response, body: bytes) -> bytes:
    coding = response.headers.get("content-encoding")
    if coding == "br":
        return bytes(brotli.decompress(body))
    if coding == "gzip":
        return gzip.decompress(body)
    return body


def test_the_page_comes_in_the_coding_the_client_accepts(server: LiveServer) -> None:
    """The blog page (twice: rendered, then from memory) is brotli for `br`, gzip when brotli
    is refused, identity with no Accept-Encoding; each says Vary and decodes to the same page,
    at under a third of its size."""
    plain, identity = raw(server.url, f"/blogs/{SLUG}", None)
    assert "content-encoding" not in plain.headers and plain.headers["vary"] == "Accept-Encoding"
    for accept, expected in [
        ("gzip, deflate, br", "br"),
        ("br;q=0, gzip", "gzip"),
        ("identity", None),
    ]:
        for _ in range(2):
            response, body = raw(server.url, f"/blogs/{SLUG}", accept)
            assert response.headers.get("content-encoding") == expected, accept
            assert response.headers["vary"] == "Accept-Encoding"
            assert int(response.headers["content-length"]) == len(body)
            assert decoded(response, body) == identity
            if expected:
                assert len(body) < len(identity) / 3, (accept, len(body), len(identity))
    pages = server.app.state.page_cache
    if server.app.state.settings.fast_stream:
        assert pages.served_from_memory >= 3, "the page from memory was never the one tested"
    else:
        assert pages.served_from_memory == 0


def test_json_feeds_styles_and_scripts_are_compressed(server: LiveServer) -> None:
    """The entries JSON, a feed, the stylesheet and the script come compressed and decode to
    what an uncompressing client gets; a static file's ETag turns weak and still revalidates."""
    for path in (
        f"/api/blogs/{SLUG}/entries",
        f"/blogs/{SLUG}/feed.atom",
        "/static/reader.css",
        "/static/reader.js",
    ):
        response, body = raw(server.url, path, "br")
        _, identity = raw(server.url, path, None)
        assert response.headers.get("content-encoding") == "br", path
        assert decoded(response, body) == identity, path
        assert "accept-encoding" in response.headers["vary"].lower(), path
    script, _ = raw(server.url, "/static/reader.js", "gzip")
    assert script.headers["etag"].startswith("W/")
    with httpx.Client(base_url=server.url) as client:
        again = client.get(
            "/static/reader.js",
            headers={"If-None-Match": script.headers["etag"], "Accept-Encoding": "gzip"},
        )
    assert again.status_code == 304


def test_head_says_the_compressed_length(server: LiveServer) -> None:
    """HEAD announces the length the GET in the same coding sends."""
    for path in (f"/blogs/{SLUG}", f"/api/blogs/{SLUG}/entries"):
        head, nothing = raw(server.url, path, "gzip", "HEAD")
        _, body = raw(server.url, path, "gzip")
        assert nothing == b"" and head.headers["content-encoding"] == "gzip"
        assert int(head.headers["content-length"]) == len(body), path


def test_never_the_stream_nor_a_page_with_a_csrf_token(server: LiveServer, tokens: Tokens) -> None:
    """The event stream goes out frame by frame, uncompressed; the login form (its CSRF
    token) and a signed-in answer are sent as they are, whatever the client accepts."""
    with (
        httpx.Client(base_url=server.url, timeout=5) as client,
        client.stream(
            "GET",
            f"/api/blogs/{SLUG}/stream",
            headers={"Accept-Encoding": "br, gzip", "Last-Event-ID": "0"},
        ) as stream,
    ):
        assert stream.status_code == 200
        assert "content-encoding" not in stream.headers
    login, _ = raw(server.url, "/login", "br, gzip")
    assert login.status_code == 200 and "content-encoding" not in login.headers
    with httpx.Client(
        base_url=server.url, headers={**auth(tokens.editor), "Accept-Encoding": "br"}
    ) as client:
        mine = client.get(f"/api/blogs/{SLUG}/worklist")
    assert mine.status_code == 200 and "content-encoding" not in mine.headers


def test_accept_encoding_is_read_as_the_rfc_says() -> None:
    """q-values decide: q=0 refuses a coding, `*` stands for the rest, names are case-blind."""
    assert choose("gzip, deflate, br") == "br"
    assert choose("br;q=0, gzip;q=0.5") == "gzip"
    assert choose("BR") == "br"
    assert choose("*;q=0") is None
    assert choose("*") == "br"
    assert choose("gzip;q=0, *;q=0.1") == "br"
    assert choose("identity") is None
    assert choose("br;q=bad, gzip") == "gzip"
