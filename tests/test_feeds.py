"""Atom, RSS and JSON Feed over real HTTP: what feed readers parse, validity against RFC 4287's
schema and JSON Feed 1.1, absolute URLs on the configured site, edits, retractions, 304s."""

from __future__ import annotations

import email.utils
import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import httpx
import jsonschema
import pytest

from liveblog.domain.models import Entry, EntryStatus
from liveblog.render.feeds import absolute_html, entry_title

from conftest import LiveServer, Team, Tokens, auth
from pictures import jpeg, photo

BASE = "https://live.example.org"
LOGO = "https://cdn.example.org/logo.png"
SLUG = "election-night"
ENTRIES = f"/api/blogs/{SLUG}/entries"
BLOG_FEEDS = {kind: f"/blogs/{SLUG}/feed.{kind}" for kind in ("atom", "rss", "json")}
SITE_FEEDS = {kind: f"/feed.{kind}" for kind in ("atom", "rss", "json")}
TYPES = {
    "atom": "application/atom+xml; charset=utf-8",
    "rss": "application/rss+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
}
FIXTURES = Path(__file__).with_name("fixtures")
JSON_FEED_SCHEMA = json.loads((FIXTURES / "jsonfeed" / "jsonfeed-1.1.schema.json").read_text())


@pytest.fixture
def live(db_url: str, tmp_path: Path, team: Team) -> Iterator[LiveServer]:
    """The real app with a configured public address and logo, requested on 127.0.0.1."""
    server = LiveServer(db_url, tmp_path, base_url=BASE, publisher_logo=LOGO)
    server.start()
    yield server
    server.stop()


def post(http: httpx.Client, token: str, **payload: Any) -> dict[str, Any]:
    r = http.post(ENTRIES, json=payload, headers=auth(token))
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


def edit(http: httpx.Client, token: str, entry: dict[str, Any], **changes: Any) -> dict[str, Any]:
    r = http.patch(
        f"{ENTRIES}/{entry['id']}",
        json={**changes, "version": entry["version"]},
        headers=auth(token),
    )
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


def picture(http: httpx.Client, token: str) -> dict[str, Any]:
    r = http.post(
        f"/api/blogs/{SLUG}/media",
        files={"file": ("photo.jpg", jpeg(photo(1600, 1000)), "image/jpeg")},
        data={"alt": "Queue at the polling station", "caption": "Voters wait"},
        headers=auth(token),
    )
    assert r.status_code == 201, r.text
    item: dict[str, Any] = r.json()
    return item


def fetch(http: httpx.Client, path: str) -> httpx.Response:
    r = http.get(path)
    assert r.status_code == 200, (path, r.text)
    return r


def parsed(http: httpx.Client, path: str) -> Any:
    """An XML feed as feedparser reads it, having checked it parsed without complaint."""
    result = feedparser.parse(fetch(http, path).content)
    assert result.bozo == 0, (path, result.get("bozo_exception"))
    return result


@dataclass
class Item:
    """One item as a feed reader shows it, whatever the format."""

    link: str
    title: str
    author: str
    published: datetime
    updated: datetime
    content: str


@dataclass
class Read:
    title: str
    link: str
    language: str | None
    items: list[Item]


def read(http: httpx.Client, path: str) -> Read:
    """A feed read by feedparser (Atom, RSS) or, for JSON Feed, which feedparser 6.0 does not
    read, by its specification's field names."""
    if path.endswith(".json"):
        data = fetch(http, path).json()
        return Read(
            data["title"],
            data["home_page_url"],
            data.get("language"),
            [
                Item(
                    i["url"],
                    i["title"],
                    i["authors"][0]["name"],
                    datetime.fromisoformat(i["date_published"]),
                    datetime.fromisoformat(i["date_modified"]),
                    i["content_html"],
                )
                for i in data["items"]
            ],
        )
    feed = parsed(http, path)
    return Read(
        feed.feed.title,
        feed.feed.link,
        feed.feed.get("language"),
        [
            Item(
                e.link,
                e.title,
                e.author,
                _moment(e.published),
                _moment(e.updated),
                e.content[0].value if "content" in e else e.summary,
            )
            for e in feed.entries
        ],
    )


def _moment(text: str) -> datetime:
    """A feed's time as written, to the precision written (RFC 3339, or RSS's RFC 822)."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return email.utils.parsedate_to_datetime(text)


def jing(tmp_path: Path, xml: bytes) -> subprocess.CompletedProcess[str]:
    target = tmp_path / "feed.xml"
    target.write_bytes(xml)
    return subprocess.run(
        ["jing", "-c", str(FIXTURES / "atom" / "atom.rnc"), str(target)],
        capture_output=True,
        text=True,
        timeout=30,
    )


# --- what feed readers see ------------------------------------------------------------------


def test_every_feed_parses_with_titles_links_dates_and_content_on_the_configured_site(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """All six feeds parse cleanly, and every link is absolute on LIVEBLOG_BASE_URL although
    the request went to 127.0.0.1."""
    first = post(http, tokens.editor, headline="Polls open", body="Turnout is **high**.")
    second = post(http, tokens.editor, body="Queues in Leipzig stretch around the block today")
    for kind, path in BLOG_FEEDS.items():
        r = fetch(http, path)
        assert r.headers["content-type"] == TYPES[kind]
        assert r.headers["cache-control"] == "no-cache"
        assert "127.0.0.1" not in r.text
        feed = read(http, path)
        assert feed.title == "Election night"
        assert feed.link == f"{BASE}/blogs/{SLUG}"
        assert feed.language in ("de", None), kind  # feedparser reports no language for Atom
        assert [e.link for e in feed.items] == [
            f"{BASE}/blogs/{SLUG}/entries/{second['id']}",
            f"{BASE}/blogs/{SLUG}/entries/{first['id']}",
        ], kind
        newest, oldest = feed.items
        assert oldest.title == "Polls open"
        assert newest.title == "Queues in Leipzig stretch around the block today"
        assert newest.author == "eddie"
        # Not edited: updated is published (RSS's pubDate is to the second).
        assert timedelta(0) <= newest.updated - newest.published < timedelta(seconds=1), kind
        assert abs(newest.published - datetime.now(UTC)) < timedelta(minutes=1), kind
        assert "<strong>high</strong>" in oldest.content
    for kind, path in SITE_FEEDS.items():
        assert fetch(http, path).headers["content-type"] == TYPES[kind]
        site = read(http, path)
        assert site.link == f"{BASE}/"
        assert [(e.link, e.title) for e in site.items] == [
            (f"{BASE}/blogs/{SLUG}", "Election night")
        ], kind


def test_a_picture_is_offered_as_the_items_image_with_absolute_urls(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """An entry's first picture is the JSON Feed image, the RSS enclosure and Atom's enclosure
    link (its largest JPEG), and its srcset and src in the content point at the public site."""
    item = picture(http, tokens.editor)
    post(http, tokens.editor, body="At the school", media=[item["id"]])
    jpegs = [r for r in item["renditions"] if r["format"] == "jpeg"]
    largest = BASE + max(jpegs, key=lambda r: r["width"])["url"]
    data = fetch(http, BLOG_FEEDS["json"]).json()
    assert data["items"][0]["image"] == largest
    for kind in ("atom", "rss"):
        entry = parsed(http, BLOG_FEEDS[kind]).entries[0]
        enclosures = [link for link in entry.links if link.rel == "enclosure"]
        assert [(e.href, e.type) for e in enclosures] == [(largest, "image/jpeg")], kind
        assert int(enclosures[0].length) > 0
    for path in BLOG_FEEDS.values():
        text = fetch(http, path).text
        assert "/media/" in text
        assert '"/media/' not in text and "&quot;/media/" not in text and " /media/" not in text
        assert f"{BASE}/media/" in text


def test_atom_feeds_are_valid_against_rfc_4287s_relax_ng_schema(
    http: httpx.Client, tokens: Tokens, blog: dict, tmp_path: Path
) -> None:
    """jing accepts the blog's Atom (with a picture, a correction and a headline-less entry) and
    the site's, and rejects a feed that lacks its required updated element."""
    require_jing()
    item = picture(http, tokens.editor)
    made = post(http, tokens.editor, body="Count starts", media=[item["id"]])
    edit(http, tokens.editor, made, body="Count started", correction="Time was wrong.")
    post(http, tokens.editor, headline="Results", body="<b>bold</b> & more")
    for path in (BLOG_FEEDS["atom"], SITE_FEEDS["atom"]):
        xml = fetch(http, path).content
        result = jing(tmp_path, xml)
        assert result.returncode == 0, (path, result.stdout, result.stderr)
        # The schema's two Schematron rules, which jing does not run: our feeds have an
        # author at feed level and every entry an alternate link.
        feed = parsed(http, path)
        assert feed.feed.author_detail.name == "Liveblog"
        assert all(any(link.rel == "alternate" for link in e.links) for e in feed.entries)
    broken = fetch(http, BLOG_FEEDS["atom"]).text.replace("<updated>", "<x-updated>", 1)
    broken = broken.replace("</updated>", "</x-updated>", 1)
    assert jing(tmp_path, broken.encode()).returncode != 0


def require_jing() -> None:
    from conftest import require_or_skip

    require_or_skip(shutil.which("jing") is not None, "Debian's jing validates Atom feeds")


def test_json_feeds_are_valid_json_feed_1_1(http: httpx.Client, tokens: Tokens, blog: dict) -> None:
    """The blog's and the site's JSON Feed validate against the 1.1 schema and carry the
    specification's required fields: version, title, and items with id and content."""
    item = picture(http, tokens.editor)
    post(http, tokens.editor, body="With a picture", media=[item["id"]])
    post(http, tokens.editor, headline="Plain", body="Text only")
    for path in (BLOG_FEEDS["json"], SITE_FEEDS["json"]):
        data = fetch(http, path).json()
        jsonschema.validate(data, JSON_FEED_SCHEMA, format_checker=jsonschema.FormatChecker())
        assert data["version"] == "https://jsonfeed.org/version/1.1"
        assert isinstance(data["title"], str) and data["title"]
        assert data["feed_url"] == BASE + path
        assert data["icon"] == LOGO
        assert data["items"]
        for entry in data["items"]:
            assert isinstance(entry["id"], str) and entry["id"]
            assert isinstance(entry.get("content_html", entry.get("content_text")), str)
    bad = {**fetch(http, BLOG_FEEDS["json"]).json(), "version": "1.1"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, JSON_FEED_SCHEMA)


# --- changes --------------------------------------------------------------------------------


def test_an_edit_moves_updated_and_shows_its_correction(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """After an edit with a correction, every blog feed has the new text, a later updated than
    published for that entry, and the correction note in its content."""
    made = post(http, tokens.editor, body="Turnout 17%")
    before = {k: read(http, p).items[0].updated for k, p in BLOG_FEEDS.items()}
    edit(http, tokens.editor, made, body="Turnout 71%", correction="Turnout was misstated.")
    for kind, path in BLOG_FEEDS.items():
        entry = read(http, path).items[0]
        assert entry.updated > before[kind], kind
        assert entry.updated > entry.published, kind
        text = fetch(http, path).text
        assert "Turnout 71%" in text and "Turnout 17%" not in text
        assert "Turnout was misstated." in text
    data = fetch(http, BLOG_FEEDS["json"]).json()
    assert data["items"][0]["date_modified"] > data["items"][0]["date_published"]


def test_a_retracted_entry_leaves_all_three_blog_feeds_at_once(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """Once an entry is retracted, no blog feed lists it or contains any of its text."""
    kept = post(http, tokens.editor, body="Confirmed result")
    gone = post(http, tokens.editor, headline="Zebracorn rumour", body="Unverified zebracorn")
    for path in BLOG_FEEDS.values():
        assert "zebracorn" in fetch(http, path).text.lower()
    r = http.request(
        "DELETE",
        f"{ENTRIES}/{gone['id']}",
        json={"public_note": "Removed: could not be verified."},
        headers=auth(tokens.editor),
    )
    assert r.status_code == 204
    for kind, path in BLOG_FEEDS.items():
        assert "zebracorn" not in fetch(http, path).text.lower(), kind
        links = [e.link for e in read(http, path).items]
        assert links == [f"{BASE}/blogs/{SLUG}/entries/{kept['id']}"], kind


def test_site_feeds_list_every_blog_newest_change_first(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """A second blog appears in the site feeds, and the blog changed last comes first."""
    r = http.post(
        "/api/blogs",
        json={"slug": "storm", "title": "Storm Ciarán", "description": "Gusts of 150 km/h"},
        headers=auth(tokens.editor),
    )
    assert r.status_code == 201, r.text
    for kind, path in SITE_FEEDS.items():
        feed = read(http, path)
        assert [e.title for e in feed.items] == ["Storm Ciarán", "Election night"], kind
        assert feed.items[0].link == f"{BASE}/blogs/storm"
        assert "Gusts of 150 km/h" in fetch(http, path).text
    r = http.patch(
        f"/api/blogs/{SLUG}", json={"title": "Election night, live"}, headers=auth(tokens.editor)
    )
    assert r.status_code == 200, r.text
    for kind, path in SITE_FEEDS.items():
        titles = [e.title for e in read(http, path).items]
        assert titles == ["Election night, live", "Storm Ciarán"], kind


# --- caching and methods ----------------------------------------------------------------------


def test_each_feed_answers_304_until_the_blog_changes(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """Every feed's ETag gets a bodiless 304, and a new entry gives each a new ETag and a 200."""
    post(http, tokens.editor, body="First")
    paths = [*BLOG_FEEDS.values(), *SITE_FEEDS.values()]
    etags = {}
    for path in paths:
        etag = fetch(http, path).headers["etag"]
        again = http.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304, path
        assert again.content == b"" and again.headers["etag"] == etag
        etags[path] = etag
    assert len(set(etags.values())) == len(paths)  # one validator per feed and format
    post(http, tokens.editor, body="Second")
    for path in paths:
        fresh = http.get(path, headers={"If-None-Match": etags[path]})
        assert fresh.status_code == 200, path
        assert fresh.headers["etag"] != etags[path]


def test_head_answers_200_with_the_headers_and_no_body(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """HEAD on each feed answers 200 with its content type and ETag, and sends no body."""
    post(http, tokens.editor, body="Something")
    for kind, path in [*BLOG_FEEDS.items(), *SITE_FEEDS.items()]:
        r = http.head(path)
        assert r.status_code == 200, path
        assert r.content == b""
        assert r.headers["content-type"] == TYPES[kind]
        assert r.headers["etag"] == fetch(http, path).headers["etag"]


def test_a_feed_of_an_unknown_blog_is_404(http: httpx.Client, blog: dict) -> None:
    """A feed of a blog that does not exist is a 404 naming the slug, HTML or JSON on request."""
    for kind in ("atom", "rss", "json"):
        r = http.get(f"/blogs/no-such-blog/feed.{kind}")
        assert r.status_code == 404, kind
        assert r.headers["content-type"].startswith("text/html") and "no-such-blog" in r.text
        r = http.get(f"/blogs/no-such-blog/feed.{kind}", headers={"Accept": "application/json"})
        assert r.status_code == 404 and "no-such-blog" in r.json()["error"], kind


# --- the pure parts -------------------------------------------------------------------------


def test_only_real_attributes_are_made_absolute() -> None:
    """Root-relative src, href and every srcset candidate gain the base URL; absolute URLs,
    fragments and text that merely looks like an attribute stay as they were."""
    html = (
        '<p>write src="/x" in text, or a &lt;img src="/y"&gt;</p>'
        '<a href="/blogs/a">a</a> <a href="https://other.example/b">b</a> <a href="#top">t</a>'
        '<img src="/media/a.jpg" srcset="/media/a.jpg 320w, /media/b.jpg 640w" alt="q &quot;/z">'
    )
    out = absolute_html(html, BASE)
    assert '<p>write src="/x" in text, or a &lt;img src="/y"&gt;</p>' in out
    assert f'href="{BASE}/blogs/a"' in out and 'href="https://other.example/b"' in out
    assert 'href="#top"' in out
    assert f'src="{BASE}/media/a.jpg"' in out
    assert f'srcset="{BASE}/media/a.jpg 320w, {BASE}/media/b.jpg 640w"' in out
    assert 'alt="q &quot;/z"' in out


def test_an_entry_without_a_headline_is_titled_by_its_first_words() -> None:
    """The first twelve words of the text (not a picture's caption) make the title, with an
    ellipsis when there is more."""
    text = "one two three four five six seven eight nine ten eleven twelve thirteen"
    html = f"<p>{text}</p><figure><figcaption>Caption</figcaption></figure>"
    long = _entry(html)
    assert entry_title(long) == "one two three four five six seven eight nine ten eleven twelve…"
    assert entry_title(_entry("<p>Short &amp; sweet</p>")) == "Short & sweet"
    assert entry_title(_entry("<p>x</p>", headline="Results")) == "Results"


def _entry(html: str, headline: str = "") -> Entry:
    now = datetime(2024, 5, 1, tzinfo=UTC)
    return Entry(
        id=1, blog_id=1, author="eddie", status=EntryStatus.PUBLISHED, headline=headline,
        body="", html=html, pinned=False, key_event=False, version=1, created_at=now,
        updated_at=now, published_at=now,
    )  # fmt: skip
