"""The live blog on a partner's site: the one-line script embed in a page from a second local
origin (real Chromium), framing refused to origins not configured, and oEmbed discovery."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from conftest import LiveServer, Tokens, auth, free_port

SLUG = "election-night"
expect.set_options(timeout=8000)


class Partner:
    """A partner's site: static files on its own loopback port, hence its own origin."""

    def __init__(self, root: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        handler = partial(_Quiet, directory=str(root))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def sites(
    db_url: str, tmp_path: Path, tokens: Tokens
) -> Iterator[tuple[LiveServer, Partner, Partner]]:
    root = tmp_path / "partner"
    root.mkdir()
    allowed, other = Partner(root), Partner(root)
    live = LiveServer(db_url, tmp_path, frame_origins=allowed.url).start()
    page = (
        "<!doctype html><title>Partner news</title><h1>Partner news</h1>"
        "<p>Our coverage, with the live blog of our partner:</p>"
        f'<script src="{live.url}/static/embed.js" data-blog="{SLUG}" async></script>'
        "<p>After the blog.</p>"
    )
    (root / "index.html").write_text(page)
    with httpx.Client(base_url=live.url, headers=auth(tokens.editor)) as api:
        api.post(
            "/api/blogs",
            json={"slug": SLUG, "title": "Election night", "key_points": ["Polls close at 22:00"]},
        )
        api.post(
            f"/api/blogs/{SLUG}/entries",
            json={"headline": "Turnout high", "body": "Queues at every station."},
        )
    try:
        yield live, allowed, other
    finally:
        live.stop()
        allowed.stop()
        other.stop()


def test_the_script_embed_shows_the_blog_live_on_a_partner_page(
    browser: Browser, sites: tuple[LiveServer, Partner, Partner], tokens: Tokens, tmp_path: Path
) -> None:
    """A partner page with the one-line script shows the blog in a frame that takes the blog's
    height, and an entry published afterwards appears in it without a reload."""
    live, partner, _ = sites
    context = browser.new_context(viewport={"width": 1024, "height": 800})
    try:
        page = context.new_page()
        page.goto(partner.url + "/index.html")
        frame = page.frame_locator("iframe")
        expect(frame.locator("#entries article").first).to_contain_text("Queues at every station.")
        expect(frame.locator("main.in-frame")).to_have_count(1)
        iframe = page.locator("iframe")
        page.wait_for_function(
            "() => parseInt(document.querySelector('iframe').style.height) > 200"
        )
        before = float(
            page.evaluate("() => parseFloat(document.querySelector('iframe').style.height)")
        )
        inner = frame.locator("body").evaluate("b => b.ownerDocument.documentElement.scrollHeight")
        assert abs(before - inner) <= 2, (before, inner)
        with httpx.Client(base_url=live.url, headers=auth(tokens.editor)) as api:
            body = (
                "Exit poll published.\n\n"
                + "The first exit poll gives the governing party 31%. " * 8
            )
            api.post(f"/api/blogs/{SLUG}/entries", json={"headline": "Exit poll", "body": body})
        expect(frame.locator("#entries article").first).to_contain_text("Exit poll published.")
        page.wait_for_function(
            f"() => parseFloat(document.querySelector('iframe').style.height) > {before + 20}"
        )
        assert iframe.get_attribute("title") == "Live blog"
        page.screenshot(path=str(tmp_path / "partner-1024.png"), full_page=True)
    finally:
        context.close()


def test_an_origin_not_configured_cannot_frame_the_blog(
    browser: Browser, sites: tuple[LiveServer, Partner, Partner]
) -> None:
    """The same page served from an origin not in LIVEBLOG_FRAME_ORIGINS gets no blog in its
    frame: the browser refuses by the page's frame-ancestors."""
    live, _, other = sites
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(other.url + "/index.html")
        page.wait_for_selector("iframe")
        page.wait_for_timeout(800)
        assert page.frame_locator("iframe").locator("main").count() == 0
    finally:
        context.close()
    csp = httpx.get(f"{live.url}/blogs/{SLUG}/embed").headers["content-security-policy"]
    assert f"frame-ancestors 'self' {sites[1].url};" in csp


def test_oembed_describes_a_blog_url_as_a_rich_frame(
    sites: tuple[LiveServer, Partner, Partner],
) -> None:
    """/oembed turns one of this site's blog URLs into a rich embed (an iframe of the embed
    page), refuses other sites' URLs (404) and formats other than JSON (501), and any origin
    may read it."""
    live, _, _ = sites
    base = live.app.state.site.base_url
    r = httpx.get(f"{live.url}/oembed", params={"url": f"{base}/blogs/{SLUG}", "maxwidth": 500})
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["version"] == "1.0" and data["type"] == "rich" and data["title"] == "Election night"
    assert f'src="{base}/blogs/{SLUG}/embed"' in data["html"] and 'width="500"' in data["html"]
    assert r.headers["access-control-allow-origin"] == "*"
    foreign = httpx.get(
        f"{live.url}/oembed", params={"url": f"https://elsewhere.example/blogs/{SLUG}"}
    )
    assert foreign.status_code == 404
    xml = httpx.get(f"{live.url}/oembed", params={"url": f"{base}/blogs/{SLUG}", "format": "xml"})
    assert xml.status_code == 501
    assert httpx.get(f"{live.url}/oembed", params={"url": f"{base}/blogs/nope"}).status_code == 404
