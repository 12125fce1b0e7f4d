"""robots.txt and the sitemap through real HTTP: what crawlers may fetch, every blog listed on
the configured base URL, Google News fields for current coverage, HEAD and 304s."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from conftest import LiveServer, Team, Tokens, auth

BASE = "https://live.example.org"
SM = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
NEWS = "{http://www.google.com/schemas/sitemap-news/0.9}"


@pytest.fixture
def live(db_url: str, tmp_path: Path, team: Team) -> Iterator[LiveServer]:
    """The app on 127.0.0.1 with another public address configured."""
    server = LiveServer(db_url, tmp_path, base_url=BASE, site_name="Example Live")
    server.start()
    yield server
    server.stop()


def make_blog(http: httpx.Client, token: str, slug: str, title: str, language: str) -> None:
    body = {"slug": slug, "title": title, "language": language}
    r = http.post("/api/blogs", json=body, headers=auth(token))
    assert r.status_code == 201, r.text


def urls_of(root: ET.Element) -> dict[str, ET.Element]:
    return {u.findtext(f"{SM}loc") or "": u for u in root.iter(f"{SM}url")}


def blocked(rules: list[str], path: str) -> bool:
    """RFC 9309 matching: the longest matching rule wins, `*` matches any run of characters."""
    best = ("allow", -1)
    for line in rules:
        kind, _, pattern = line.partition(": ")
        if kind not in ("Allow", "Disallow"):
            continue
        matches = re.match(re.escape(pattern).replace(r"\*", ".*"), path)
        if matches and (len(pattern), kind == "Allow") > (best[1], best[0] == "allow"):
            best = (kind.lower(), len(pattern))
    return best[0] == "disallow"


def test_robots_txt_opens_the_reader_pages_and_closes_the_newsroom(http: httpx.Client) -> None:
    """robots.txt allows the reader pages, pictures and public API reads, disallows the desk,
    login and staff API routes, and names the sitemap on the configured base URL."""
    r = http.get("/robots.txt")
    assert r.status_code == 200 and r.headers["content-type"] == "text/plain; charset=utf-8"
    assert r.headers["cache-control"] == "no-cache"
    lines = r.text.splitlines()
    assert lines[0] == "User-agent: *"
    closed = ["/desk", "/desk/admin", "/desk/blogs/x", "/login", "/api/audit?limit=5",
              "/api/preview", "/api/blogs/x/worklist", "/api/blogs/x/media",
              "/api/blogs/x/stream", "/api/blogs/x/entries/3/revisions"]  # fmt: skip
    assert [p for p in closed if not blocked(lines, p)] == []
    open_ = ["/", "/blogs/x", "/blogs/x?before=abc", "/blogs/x/entries/3", "/media/ab.jpg",
             "/api/blogs", "/api/blogs/x", "/api/blogs/x/entries", "/api/blogs/x/entries/3",
             "/api/blogs/x/events", "/sitemap.xml"]  # fmt: skip
    assert [p for p in open_ if blocked(lines, p)] == []
    assert f"Sitemap: {BASE}/sitemap.xml" in lines


def test_sitemap_lists_every_blog_with_news_fields_for_live_coverage(
    live: LiveServer, http: httpx.Client, tokens: Tokens
) -> None:
    """The sitemap is XML in the sitemap and news namespaces, lists each blog's absolute URL
    with its lastmod, and gives a live blog publication, language, date and title."""
    make_blog(http, tokens.editor, "storm", "Storm & floods <live>", "pt-BR")
    make_blog(http, tokens.editor, "vote", "Election", "zh-Hant-TW")
    r = http.get("/sitemap.xml")
    assert r.status_code == 200 and r.headers["content-type"] == "application/xml"
    assert r.headers["cache-control"] == "no-cache" and "127.0.0.1" not in r.text
    root = ET.fromstring(r.content)
    assert root.tag == f"{SM}urlset"
    found = urls_of(root)
    assert set(found) == {f"{BASE}/blogs/storm", f"{BASE}/blogs/vote"}
    storm = http.get("/api/blogs/storm").json()
    entry = found[f"{BASE}/blogs/storm"]
    assert entry.findtext(f"{SM}lastmod") == storm["updated_at"]
    news = entry.find(f"{NEWS}news")
    assert news is not None
    assert news.findtext(f"{NEWS}publication/{NEWS}name") == "Example Live"
    assert news.findtext(f"{NEWS}publication/{NEWS}language") == "pt"
    assert news.findtext(f"{NEWS}publication_date") == storm["created_at"]
    assert news.findtext(f"{NEWS}title") == "Storm & floods <live>"
    vote = found[f"{BASE}/blogs/vote"]
    assert vote.findtext(f"{NEWS}news/{NEWS}publication/{NEWS}language") == "zh-tw"


def test_ended_coverage_leaves_google_news_after_two_days(
    live: LiveServer, http: httpx.Client, tokens: Tokens
) -> None:
    """An ended blog keeps its news fields for two days after its last change, then only its
    URL stays; the ETag changes with that."""
    make_blog(http, tokens.editor, "storm", "Storm", "en")
    r = http.patch("/api/blogs/storm", json={"status": "ended"}, headers=auth(tokens.editor))
    assert r.status_code == 200, r.text
    fresh = http.get("/sitemap.xml")
    assert (
        urls_of(ET.fromstring(fresh.content))[f"{BASE}/blogs/storm"].find(f"{NEWS}news") is not None
    )
    real_clock = live.svc.clock
    live.svc.clock = lambda: real_clock() + timedelta(days=2, minutes=1)
    try:
        later = http.get("/sitemap.xml")
    finally:
        live.svc.clock = real_clock
    entry = urls_of(ET.fromstring(later.content))[f"{BASE}/blogs/storm"]
    assert entry.find(f"{NEWS}news") is None and entry.findtext(f"{SM}lastmod")
    assert later.headers["etag"] != fresh.headers["etag"]


def test_head_and_304_round_trips(live: LiveServer, http: httpx.Client, tokens: Tokens) -> None:
    """HEAD answers like GET without a body; a revalidation with the ETag is a 304 until a blog
    changes, then the new sitemap comes with a new ETag."""
    make_blog(http, tokens.editor, "storm", "Storm", "en")
    for path in ("/robots.txt", "/sitemap.xml"):
        got = http.get(path)
        head = http.head(path)
        assert head.status_code == 200 and head.content == b""
        assert head.headers["etag"] == got.headers["etag"]
        assert head.headers["content-type"] == got.headers["content-type"]
        again = http.get(path, headers={"If-None-Match": got.headers["etag"]})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == got.headers["etag"]
    before = http.get("/sitemap.xml")
    make_blog(http, tokens.editor, "vote", "Vote", "en")
    after = http.get("/sitemap.xml", headers={"If-None-Match": before.headers["etag"]})
    assert after.status_code == 200 and f"{BASE}/blogs/vote" in after.text
    assert after.headers["etag"] != before.headers["etag"]


def test_staff_pages_tell_crawlers_not_to_index_them(live: LiveServer, http: httpx.Client) -> None:
    """The login page, which crawlers can reach, carries `noindex`; reader pages do not."""
    assert '<meta name="robots" content="noindex">' in http.get("/login").text
    assert "noindex" not in http.get("/").text
