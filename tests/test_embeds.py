"""Links, link cards and click-to-load embeds in entry bodies, privacy first.

The Markdown side is checked on render_markdown's output, parsed as HTML; the served CSP through
a real server; the click-to-load script in Debian's chromium on a page served over loopback with
the app's own CSP, every third-party request answered by a local stub (there is no internet).
"""

from __future__ import annotations

import functools
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect

from liveblog.render.embeds import PLATFORMS, frame_sources, standalone_link_html
from liveblog.render.markdown import render_markdown
from liveblog.web.headers import CSP

from browser import CSP_WATCH

STATIC = Path(__file__).resolve().parents[1] / "src" / "liveblog" / "web" / "static"
SHOTS = Path("/tmp/embeds-shots")
expect.set_options(timeout=5000)


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]


class Parsed(HTMLParser):
    """Every element of a piece of HTML with its attributes, and its text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append(Element(tag, {k: v or "" for k, v in attrs}))

    def handle_data(self, data: str) -> None:
        self.text += data

    def having(self, css_class: str) -> list[Element]:
        return [e for e in self.elements if css_class in e.attrs.get("class", "").split()]

    def tags(self, tag: str) -> list[Element]:
        return [e for e in self.elements if e.tag == tag]


def parse(html: str) -> Parsed:
    parsed = Parsed()
    parsed.feed(html)
    parsed.close()
    return parsed


def placeholder(html: str) -> Element:
    parsed = parse(html)
    boxes = parsed.having("embed")
    assert len(boxes) == 1, html
    return boxes[0]


# --- links ----------------------------------------------------------------------------------


def test_bare_url_in_a_sentence_becomes_a_safe_link() -> None:
    """A bare URL inside a sentence is a link that opens without opener, referrer or ranking."""
    html = render_markdown("The full report is at https://example.org/report?page=2 tonight.")
    links = parse(html).tags("a")
    assert len(links) == 1
    assert links[0].attrs["href"] == "https://example.org/report?page=2"
    assert set(links[0].attrs["rel"].split()) == {"noopener", "noreferrer", "nofollow"}
    assert html.startswith("<p>The full report is at <a ")


def test_only_intended_bare_links_are_made() -> None:
    """www. hosts and e-mail addresses become links; prose that merely looks like a host
    ("said.It"), ftp and scheme-relative URLs stay text."""
    html = render_markdown(
        "See www.bbc.co.uk or write to desk@example.org; he said.It was ftp://x.org"
    )
    hrefs = [a.attrs["href"] for a in parse(html).tags("a")]
    assert hrefs == ["http://www.bbc.co.uk", "mailto:desk@example.org"]


def test_a_body_full_of_links_renders_in_bounded_time() -> None:
    """98 KB of one-address lines (14,000 links) renders in under a second here, not the 10 s
    that markdown-it's own linkify step, quadratic in a paragraph's links, took."""
    body = "a@b.co\n" * 14_000
    started = time.perf_counter()
    html = render_markdown(body)
    elapsed = time.perf_counter() - started
    assert html.count("<a ") == 14_000
    assert elapsed < 3.0, f"{elapsed:.2f} s"


def test_url_inside_a_sentence_stays_a_link_not_an_embed() -> None:
    """A YouTube URL inside a sentence, in a list, beside another link or around a picture is
    an ordinary link."""
    for body in [
        "Watch https://www.youtube.com/watch?v=dQw4w9WgXcQ now.",
        "- https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        "https://youtu.be/dQw4w9WgXcQ https://youtu.be/dQw4w9WgXcQ",
        "[![The mayor](https://example.org/mayor.jpg)](https://youtu.be/dQw4w9WgXcQ)",
    ]:
        parsed = parse(render_markdown(body))
        assert parsed.having("embed") == [] and parsed.having("link-card") == [], body
        assert (
            parsed.tags("a")[0]
            .attrs["href"]
            .startswith(("https://www.youtube.com/", "https://youtu.be/"))
        )


# --- embeds ---------------------------------------------------------------------------------

SAMPLES = [
    ("https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=42s", "YouTube",
     "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ", "16x9"),
    ("https://youtu.be/dQw4w9WgXcQ?si=share", "YouTube",
     "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ", "16x9"),
    ("https://www.youtube.com/shorts/dQw4w9WgXcQ", "YouTube",
     "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ", "9x16"),
    ("https://vimeo.com/76979871", "Vimeo", "https://player.vimeo.com/video/76979871?dnt=1",
     "16x9"),
    ("https://vimeo.com/76979871/8272103f6e", "Vimeo",
     "https://player.vimeo.com/video/76979871?h=8272103f6e&dnt=1", "16x9"),
    ("https://x.com/AP/status/1798765432101234567", "X",
     "https://platform.twitter.com/embed/Tweet.html?id=1798765432101234567&dnt=true", "post"),
    ("https://twitter.com/Reuters/status/1798765432101234567/photo/1", "X",
     "https://platform.twitter.com/embed/Tweet.html?id=1798765432101234567&dnt=true", "post"),
    ("https://bsky.app/profile/did:plc:z72i7hdynmk6r22z27h6tvur/post/3kj2umze7zj2n", "Bluesky",
     "https://embed.bsky.app/embed/did:plc:z72i7hdynmk6r22z27h6tvur/app.bsky.feed.post/"
     "3kj2umze7zj2n", "post"),
    ("https://mastodon.social/@Gargron/109333213352826011", "Mastodon",
     "https://mastodon.social/@Gargron/109333213352826011/embed", "post"),
    ("https://mstdn.social/@reporter/111222333444555666", "Mastodon",
     "https://mstdn.social/@reporter/111222333444555666/embed", "post"),
    ("https://t.me/durov/43", "Telegram", "https://t.me/durov/43?embed=1", "post"),
    ("https://www.instagram.com/p/C1a2b3c4d5E/", "Instagram",
     "https://www.instagram.com/p/C1a2b3c4d5E/embed/", "post-tall"),
    ("https://www.instagram.com/reel/C1a2b3c4d5E/", "Instagram",
     "https://www.instagram.com/reel/C1a2b3c4d5E/embed/", "post-tall"),
    ("https://www.tiktok.com/@scout2015/video/6718335390845095173", "TikTok",
     "https://www.tiktok.com/player/v1/6718335390845095173", "9x16"),
    ("https://www.facebook.com/nytimes/posts/pfbid02abcDEF", "Facebook",
     "https://www.facebook.com/plugins/post.php?href=https%3A%2F%2Fwww.facebook.com%2Fnytimes"
     "%2Fposts%2Fpfbid02abcDEF&show_text=true&width=500", "post"),
    ("https://www.facebook.com/watch/?v=1234567890", "Facebook",
     "https://www.facebook.com/plugins/video.php?href=https%3A%2F%2Fwww.facebook.com%2Fwatch"
     "%2F%3Fv%3D1234567890&show_text=false&width=560", "16x9"),
]  # fmt: skip


@pytest.mark.parametrize(("url", "platform", "src", "aspect"), SAMPLES)
@pytest.mark.parametrize("form", ["bare", "angle", "markdown"])
def test_platform_url_alone_becomes_a_placeholder(
    url: str, platform: str, src: str, aspect: str, form: str
) -> None:
    """A post or video URL alone in its paragraph (bare, <url> or [text](url)) becomes a
    placeholder: a link to the original, and the privacy-friendly iframe URL in data only."""
    body = {"bare": url, "angle": f"<{url}>", "markdown": f"[Statement by the mayor]({url})"}
    html = render_markdown(f"Earlier tonight:\n\n{body[form]}\n\nMore soon.")
    box = placeholder(html)
    assert box.attrs["data-embed-src"] == src
    assert box.attrs["data-embed-platform"] == platform
    assert box.attrs["data-embed-aspect"] == aspect
    assert "allow-top-navigation" not in box.attrs["data-embed-sandbox"]
    parsed = parse(html)
    assert [a.attrs["href"] for a in parsed.tags("a")] == [url]
    assert parsed.tags("iframe") == [] and parsed.tags("script") == []  # nothing loads yet
    assert f"on {platform}" in parsed.text
    assert ("Statement by the mayor" in parsed.text) == (form == "markdown")
    assert f"https://{urlsplit(src).hostname}" in frame_sources()


def test_privacy_hosts_are_used() -> None:
    """YouTube embeds come from youtube-nocookie.com and Vimeo's player is asked not to track."""
    youtube = placeholder(render_markdown("https://youtube.com/watch?v=dQw4w9WgXcQ"))
    assert urlsplit(youtube.attrs["data-embed-src"]).hostname == "www.youtube-nocookie.com"
    vimeo = placeholder(render_markdown("https://vimeo.com/76979871"))
    assert parse_qs(urlsplit(vimeo.attrs["data-embed-src"]).query)["dnt"] == ["1"]


@pytest.mark.parametrize(
    "url",
    [
        "https://youtube.com.evil.example/watch?v=dQw4w9WgXcQ",
        "https://evilyoutube.com/watch?v=dQw4w9WgXcQ",
        "https://www.youtube.com.evil.example/shorts/dQw4w9WgXcQ",
        "https://www.youtube.com@evil.example/watch?v=dQw4w9WgXcQ",
        "https://www.youtube.com:8443/watch?v=dQw4w9WgXcQ",
        "https://www.youtube.com/watch?v=tooShort",
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ&v=abcdefghijk",
        "https://notx.com/AP/status/1798765432101234567",
        "https://x.com.evil.example/AP/status/1798765432101234567",
        "https://mastodon.social.evil.example/@Gargron/109333213352826011",
        "https://some-other-instance.example/@Gargron/109333213352826011",
        "https://bsky.app/profile/bsky.app/post/3kj2umze7zj2n",
        "https://instagram.com.evil.example/p/C1a2b3c4d5E/",
        "https://vm.tiktok.com/ZMabcdef/",
    ],
)
def test_look_alike_or_unknown_url_is_no_embed(url: str) -> None:
    """Look-alike hosts, user info, ports, malformed ids, unlisted Mastodon instances and
    Bluesky handles (the embed needs a DID) become link cards, never embeds."""
    parsed = parse(render_markdown(url))
    assert parsed.having("embed") == []
    assert len(parsed.having("link-card")) == 1


def test_unknown_url_alone_becomes_a_link_card() -> None:
    """Any other URL alone shows as a card with its domain and the editor's text, or the URL
    without its scheme when the editor gave no text."""
    named = parse(render_markdown("[Results by district](https://www.example.org/results)"))
    assert [e.tag for e in named.having("link-card")] == ["p"]
    assert named.tags("a")[0].attrs["href"] == "https://www.example.org/results"
    assert set(named.tags("a")[0].attrs["rel"].split()) == {"noopener", "noreferrer", "nofollow"}
    assert named.text.split() == ["example.org", "Results", "by", "district"]

    bare = parse(render_markdown("https://münchen.example/wahl"))
    assert bare.tags("a")[0].attrs["href"] == "https://xn--mnchen-3ya.example/wahl"
    assert bare.text.split() == ["münchen.example", "münchen.example/wahl"]


@pytest.mark.parametrize(
    "body",
    [
        "javascript:alert(1)",
        "<javascript:alert(1)>",
        "[Click](javascript:alert(1))",
        "[Click](JaVaScRiPt:alert(1))",
        "[Click](vbscript:msgbox(1))",
        "data:text/html,<script>alert(1)</script>",
        "[Click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "See [this](javascript:alert(1)) and <data:text/html,x>.",
    ],
)
def test_script_and_data_urls_never_become_links_or_cards(body: str) -> None:
    """javascript:, vbscript: and data: URLs give neither a link, a card nor an embed."""
    parsed = parse(render_markdown(body))
    assert parsed.tags("a") == []
    assert parsed.having("link-card") == [] and parsed.having("embed") == []


def test_non_web_urls_get_no_block() -> None:
    """Only http(s) URLs can become a card or an embed."""
    for href in ["javascript:alert(1)", "data:text/html,x", "mailto:a@example.org", "ftp://x.org"]:
        assert standalone_link_html(href, "x", editor_text=True) is None


ALLOWED_ATTRIBUTES = {"class", "href", "rel"} | {
    f"data-embed-{k}"
    for k in ["src", "platform", "aspect", "width", "height", "sandbox", "allow", "title"]
}


@pytest.mark.parametrize(
    "body",
    [
        '[x" onmouseover="alert(1)](https://example.org/a"b)',
        "[<img src=x onerror=alert(1)>](https://example.org/)",
        '["><script>alert(1)</script>](https://www.youtube.com/watch?v=dQw4w9WgXcQ&x=%22%3E)',
        '<https://example.org/"onmouseover="alert(1)">',
        '[it\'s <b>bold</b> & "quoted"](https://t.me/durov/43)',
    ],
)
def test_attribute_injection_is_escaped(body: str) -> None:
    """Quotes and angle brackets in URLs and link text come out as text, never as markup."""
    html = render_markdown(body)
    parsed = parse(html)
    assert {e.tag for e in parsed.elements} <= {"p", "a", "span", "div"}, html
    for element in parsed.elements:
        assert set(element.attrs) <= ALLOWED_ATTRIBUTES, html
        assert '"' not in element.attrs.get("href", "") and "<" not in element.attrs.get("href", "")


def test_our_markup_escapes_every_value() -> None:
    """Values handed straight to the block writer are escaped, even ones the parser would have
    encoded already."""
    html = standalone_link_html('https://example.org/"><script>', 'a"<b>&', editor_text=True)
    assert html is not None
    parsed = parse(html)
    assert parsed.tags("script") == []
    assert parsed.tags("a")[0].attrs["href"] == 'https://example.org/"><script>'
    assert 'a"<b>&' in parsed.text
    assert '"><script>' not in html


# --- the Content-Security-Policy --------------------------------------------------------------


def test_frame_sources_are_exactly_the_table_hosts() -> None:
    """frame_sources() lists each platform's frame hosts once, https only, no wildcard."""
    hosts = {host for platform in PLATFORMS for host in platform.frame_hosts}
    sources = frame_sources()
    assert len(sources) == len(set(sources))
    assert set(sources) == {f"https://{host}" for host in hosts}
    assert "https://www.youtube-nocookie.com" in sources
    assert "https://www.youtube.com" not in sources
    for source in sources:
        assert "*" not in source and urlsplit(source).hostname


def test_served_csp_frames_only_the_table_hosts(http: httpx.Client) -> None:
    """A page the app serves says frames may come from the table's hosts and nowhere else,
    and its other directives are the strict ones they were."""
    header = http.get("/").headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in header.split(";"))
    assert directives["frame-src"].split() == list(frame_sources())
    assert not {"*", "https:", "http:", "data:", "'self'"} & set(directives["frame-src"].split())
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["default-src"] == "'self'" and directives["object-src"] == "'none'"
    assert header == CSP


# --- in a browser -----------------------------------------------------------------------------

YOUTUBE = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
PAGE_BODY = f"""Polls closed at 22:00. The count is under way, see https://example.org/count.

[The mayor concedes]({YOUTUBE})

[Results by district](https://www.example.org/elections/2025/results-by-district)

https://vimeo.com/76979871
"""
STUB = (
    "<!doctype html><title>stub</title><body style='margin:0;background:#111;color:#eee;"
    "font:16px sans-serif;display:grid;place-items:center;height:100vh'>Stub player</body>"
)


class _Handler(SimpleHTTPRequestHandler):
    def end_headers(self) -> None:
        self.send_header("Content-Security-Policy", CSP)  # the app's own
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def site(tmp_path: Path) -> Iterator[str]:
    """A static page with rendered entry HTML, reader.css, embeds.css and embeds.js, served
    from a temporary directory over loopback with the app's CSP."""
    for name in ["reader.css", "embeds.css", "embeds.js"]:
        shutil.copy(STATIC / name, tmp_path / name)
    (tmp_path / "index.html").write_text(
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>Embeds</title>"
        '<link rel="stylesheet" href="/reader.css"><link rel="stylesheet" href="/embeds.css">'
        '<script src="/embeds.js" defer></script></head><body>'
        '<main id="content"><h1>Election night</h1><div id="entries"><article class="entry">'
        f'<div class="entry-body">{render_markdown(PAGE_BODY)}</div></article></div></main>'
        "</body></html>",
        encoding="utf-8",
    )
    handler = functools.partial(_Handler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@dataclass
class Visit:
    context: BrowserContext
    page: Page
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def third_party(self) -> list[str]:
        return [u for u in self.requests if urlsplit(u).hostname != "127.0.0.1"]


def _stub(route: Route) -> None:
    if urlsplit(route.request.url).hostname == "127.0.0.1":
        route.continue_()
    else:
        route.fulfill(status=200, content_type="text/html", body=STUB)


@pytest.fixture
def visit(browser: Browser) -> Iterator[Any]:
    """Opens the page in a fresh context that records every request, its frames' included,
    and answers any third-party request with a local stub."""
    opened: list[Visit] = []

    def open_page(url: str, width: int = 1280, javascript: bool = True) -> Visit:
        context = browser.new_context(
            viewport={"width": width, "height": 900}, java_script_enabled=javascript
        )
        context.route("**/*", _stub)
        page = context.new_page()
        page.add_init_script(CSP_WATCH)
        seen = Visit(context, page)
        context.on("request", lambda request: seen.requests.append(request.url))
        page.on("console", lambda m: seen.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: seen.errors.append(f"uncaught: {exc}"))
        opened.append(seen)
        page.goto(url)
        return seen

    yield open_page
    for seen in opened:
        seen.context.close()


def test_nothing_third_party_loads_before_the_click(site: str, visit: Any) -> None:
    """Before the reader clicks, the page asks nothing of any host but loopback; the click
    loads a sandboxed youtube-nocookie frame, the only third party asked, and focus moves to it."""
    seen: Visit = visit(site)
    page = seen.page
    button = page.get_by_role("button", name="Load content from YouTube")
    expect(button).to_be_visible()
    expect(page.get_by_role("button", name="Load content from Vimeo")).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert seen.third_party() == []
    assert page.locator("iframe").count() == 0

    button.click()
    frame = page.locator(".embed-youtube iframe")
    expect(frame).to_have_attribute("src", "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ")
    expect(page.frame_locator(".embed-youtube iframe").get_by_text("Stub player")).to_be_visible()
    sandbox = (frame.get_attribute("sandbox") or "").split()
    assert "allow-scripts" in sandbox and "allow-top-navigation" not in sandbox
    assert frame.get_attribute("referrerpolicy") == "strict-origin-when-cross-origin"
    assert frame.get_attribute("loading") == "lazy"
    assert frame.get_attribute("title") == "Video on YouTube"
    assert frame.get_attribute("style") is None
    assert page.evaluate("document.activeElement.tagName") == "IFRAME"
    assert {urlsplit(u).hostname for u in seen.third_party()} == {"www.youtube-nocookie.com"}
    expect(page.locator(".embed-youtube a.embed-link")).to_have_attribute("href", YOUTUBE)
    assert page.locator(".embed-vimeo iframe").count() == 0
    assert page.evaluate("window.__csp") == [] and seen.errors == []


def test_entry_inserted_later_gets_its_button_and_loads_by_keyboard(site: str, visit: Any) -> None:
    """A placeholder another script adds later gets its button without any call, and Enter on
    the button loads it; prepare() is there for scripts that want it at once."""
    seen: Visit = visit(site)
    page = seen.page
    markup = render_markdown("https://www.tiktok.com/@scout2015/video/6718335390845095173")
    page.evaluate(
        "html => { const d = document.createElement('div'); d.id = 'late'; d.innerHTML = html;"
        " document.getElementById('entries').appendChild(d); }",
        markup,
    )
    button = page.locator("#late").get_by_role("button", name="Load content from TikTok")
    expect(button).to_be_visible()
    assert (
        page.evaluate(
            "html => { const d = document.createElement('div'); d.innerHTML = html;"
            " window.LiveblogEmbeds.prepare(d); return d.querySelectorAll('.embed-load').length; }",
            markup,
        )
        == 1
    )
    button.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#late iframe.embed-9x16")).to_have_attribute(
        "src", "https://www.tiktok.com/player/v1/6718335390845095173"
    )
    assert page.locator("#late .embed-load").count() == 0
    assert page.evaluate("window.__csp") == [] and seen.errors == []


def test_without_javascript_the_placeholder_is_a_plain_link(site: str, visit: Any) -> None:
    """With JavaScript off a reader sees a link to the original post and no button, and the
    page asks nothing of any third party."""
    seen: Visit = visit(site, javascript=False)
    page = seen.page
    link = page.get_by_role("link", name="Watch this video on YouTube", exact=False)
    expect(link).to_have_attribute("href", YOUTUBE)
    expect(link).to_contain_text("youtube.com")
    assert page.locator("button").count() == 0 and page.locator("iframe").count() == 0
    page.wait_for_load_state("networkidle")
    assert seen.third_party() == []


@pytest.mark.parametrize("width", [390, 1280])
def test_embeds_fit_phone_and_desktop(site: str, visit: Any, width: int) -> None:
    """A placeholder, a link card and a loaded embed fit the width without sideways scrolling;
    the screenshots are kept in /tmp/embeds-shots for a look."""
    seen: Visit = visit(site, width=width)
    page = seen.page
    page.get_by_role("button", name="Load content from YouTube").click()
    expect(page.frame_locator(".embed-youtube iframe").get_by_text("Stub player")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    frame = page.locator(".embed-youtube iframe").bounding_box()
    assert frame is not None and abs(frame["width"] / frame["height"] - 16 / 9) < 0.02
    card = page.locator(".link-card-link").bounding_box()
    assert card is not None and card["x"] + card["width"] <= width
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"embeds-{width}.png"), full_page=True)
    assert page.evaluate("window.__csp") == [] and seen.errors == []
