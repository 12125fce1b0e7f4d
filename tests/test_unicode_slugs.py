"""Slugs in the blog's own script: lower-case letters of any alphabet, digits and hyphens,
stored in NFC, percent-encoded in every URL we emit, and taking the same fast paths (the page
from memory, the lean stream) as ASCII ones."""

from __future__ import annotations

import re
import socket
import unicodedata
from urllib.parse import quote

import feedparser
import httpx

from liveblog.domain.purges import purge_paths

from conftest import LiveServer, Tokens, auth

SLUG = "війна-в-україні"
ENCODED = quote(SLUG, safe="")


def create(http: httpx.Client, token: str, slug: str) -> httpx.Response:
    return http.post(
        "/api/blogs", json={"slug": slug, "title": "Війна в Україні"}, headers=auth(token)
    )


def test_slugs_in_any_script_and_what_is_refused(http: httpx.Client, tokens: Tokens) -> None:
    """A Ukrainian or Arabic slug is taken; a slug typed in decomposed form is stored
    composed and found in either; capitals, spaces, underscores, emoji and edge hyphens are
    refused with 422 naming the field."""
    assert create(http, tokens.editor, SLUG).json()["slug"] == SLUG
    assert create(http, tokens.editor, "الحرب-في-أوكرانيا").status_code == 201
    decomposed = unicodedata.normalize("NFD", "café-live")
    made = create(http, tokens.editor, decomposed)
    assert made.status_code == 201 and made.json()["slug"] == "café-live"
    assert http.get("/api/blogs/" + quote(decomposed, safe="")).status_code == 200
    for bad in ("Війна", "війна україна", "війна_україна", "-війна", "війна-", "news-🔥", "a" * 81):
        response = create(http, tokens.editor, bad)
        assert response.status_code == 422 and response.json()["field"] == "slug", bad


def test_every_url_we_emit_names_it_percent_encoded(
    http: httpx.Client, tokens: Tokens, live: LiveServer
) -> None:
    """Canonical link, feed links, structured data, the Atom feed's links, the sitemap and the
    purge list name the blog percent-encoded, never as raw UTF-8."""
    create(http, tokens.editor, SLUG)
    entry = http.post(
        f"/api/blogs/{ENCODED}/entries", json={"body": "Сирени"}, headers=auth(tokens.editor)
    ).json()
    page = http.get(f"/blogs/{ENCODED}").text
    assert f'/blogs/{ENCODED}"' in page and f'/blogs/{ENCODED}/feed.atom"' in page
    hrefs = re.findall(r'(?:href|content)="([^"]*/blogs/[^"]*)"', page)
    assert hrefs and all(SLUG not in h for h in hrefs), [h for h in hrefs if SLUG in h]
    assert SLUG not in re.search(r'"url":\s*"([^"]+)"', page).group(1)  # type: ignore[union-attr]
    feed = feedparser.parse(http.get(f"/blogs/{ENCODED}/feed.atom").content)
    assert feed.entries[0].link.endswith(f"/blogs/{ENCODED}/entries/{entry['id']}")
    assert f"/blogs/{ENCODED}</loc>" in http.get("/sitemap.xml").text
    assert f"/blogs/{ENCODED}/entries/{entry['id']}" in purge_paths(SLUG, [entry["id"]], 1)


def test_the_fast_paths_serve_it(http: httpx.Client, tokens: Tokens, live: LiveServer) -> None:
    """Requested percent-encoded on a fresh connection, the page comes from memory once
    rendered, and the stream goes to the lean writer and replays the blog's entry."""
    create(http, tokens.editor, SLUG)
    http.post(f"/api/blogs/{ENCODED}/entries", json={"body": "Сирени"}, headers=auth(tokens.editor))
    pages = live.app.state.page_cache
    assert httpx.get(f"{live.url}/blogs/{ENCODED}").status_code == 200  # renders it
    before = pages.served_from_memory
    again = httpx.get(f"{live.url}/blogs/{ENCODED}")
    assert again.status_code == 200 and "Сирени" in again.text
    assert pages.served_from_memory == before + 1
    streams = live.app.state.edge.lean_streams
    with socket.create_connection(("127.0.0.1", live.port), timeout=5) as sock:
        head = f"GET /api/blogs/{ENCODED}/stream HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 0\r\n\r\n"
        sock.sendall(head.encode())
        data = b""
        while "Сирени".encode() not in data:
            chunk = sock.recv(65536)
            assert chunk, data
            data += chunk
    assert data.startswith(b"HTTP/1.1 200")
    assert live.app.state.edge.lean_streams == streams + 1
