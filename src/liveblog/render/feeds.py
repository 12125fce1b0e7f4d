"""A blog's entries, or the site's blogs, as Atom (RFC 4287), RSS 2.0 and JSON Feed 1.1.

Each feed is first described once, format-free (`FeedDoc` of `FeedItem`s), then written by
`atom`, `rss` or `json_feed`. Every URL in a feed is absolute on the configured site (never
the request's Host): feed readers resolve nothing against the page they found the feed on, so
the relative `/media/...` URLs in an entry's HTML are made absolute here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from html import escape
from html.parser import HTMLParser
from typing import Any

from feedgenerator import Atom1Feed, Enclosure, Rss201rev2Feed, rfc3339_date

from liveblog.domain.media import MediaFile, MediaRef
from liveblog.domain.models import Blog, Entry
from liveblog.domain.site import Site, blog_path

JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
TITLE_WORDS = 12
TITLE_CHARS = 80
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""A site with no blogs yet has never changed: a fixed `updated`, so its ETag stays honest."""


@dataclass(frozen=True, slots=True)
class FeedImage:
    url: str
    """Absolute."""
    media_type: str
    length: int
    """Bytes, as RSS and Atom enclosures state them."""


@dataclass(frozen=True, slots=True)
class FeedItem:
    id: str
    url: str
    title: str
    html: str
    """Sanitised HTML with absolute URLs."""
    published: datetime
    updated: datetime
    author: str
    image: FeedImage | None = None


@dataclass(frozen=True, slots=True)
class FeedDoc:
    """One feed, whatever its format: the writers differ only in syntax."""

    id: str
    title: str
    description: str
    home_url: str
    """The HTML page this feed follows."""
    feed_path: str
    """The feed's own URL without its extension (`.atom`, `.rss`, `.json` are added)."""
    updated: datetime
    author: str
    author_url: str
    language: str | None
    logo: str | None
    items: tuple[FeedItem, ...]


# --- what a feed says -------------------------------------------------------------------------


def blog_feed(
    site: Site, blog: Blog, entries: Sequence[Entry], *, copy_at: str | None = None
) -> FeedDoc:
    """A blog's published entries as given (newest first), as one feed. With `copy_at` (the
    address of a static copy, `liveblog export --copy-url`), the feed of that copy: its page,
    its entries' anchors, its own feed files; the entries' pictures must already be the copy's."""
    page = site.url(blog_path(blog.slug))
    feed_path = site.url(blog_path(blog.slug, "/feed"))
    link = partial(_permalink, site, blog)
    if copy_at is not None:
        page, feed_path = copy_at.rstrip("/") + "/", copy_at.rstrip("/") + "/feed"
        link = partial(_anchor, page)
    items = tuple(_entry_item(site, e, link(e)) for e in entries)
    newest = max([_utc(blog.updated_at), *(i.updated for i in items)])
    return FeedDoc(
        id=page,
        title=blog.title,
        description=blog.description or f"Live coverage: {blog.title}",
        home_url=page,
        feed_path=feed_path,
        updated=newest,
        author=site.publisher_name,
        author_url=site.url("/"),
        language=blog.language or None,
        logo=site.publisher_logo,
        items=items,
    )


def site_feed(site: Site, blogs: Sequence[Blog]) -> FeedDoc:
    """The site's blogs, one item each, the most recently changed first."""
    ordered = sorted(blogs, key=lambda b: _utc(b.updated_at), reverse=True)
    items = tuple(_blog_item(site, b) for b in ordered)
    return FeedDoc(
        id=site.url("/"),
        title=site.name,
        description=f"Live coverage from {site.publisher_name}",
        home_url=site.url("/"),
        feed_path=site.url("/feed"),
        updated=max((i.updated for i in items), default=EPOCH),
        author=site.publisher_name,
        author_url=site.url("/"),
        language=None,
        logo=site.publisher_logo,
        items=items,
    )


def _permalink(site: Site, blog: Blog, entry: Entry) -> str:
    return site.url(blog_path(blog.slug, f"/entries/{entry.id}"))


def _anchor(page: str, entry: Entry) -> str:
    return f"{page}#entry-{entry.id}"


def _entry_item(site: Site, entry: Entry, link: str) -> FeedItem:
    html = entry.html
    if entry.correction is not None:
        # The page shows the note beside the entry; a feed reader only ever shows the content.
        html += (
            '<p class="entry-correction"><strong>Correction:</strong> '
            f"{escape(entry.correction.note)}</p>"
        )
    return FeedItem(
        id=link,
        url=link,
        title=entry_title(entry),
        html=absolute_html(html, site.base_url),
        published=_utc(entry.published_at or entry.created_at),
        updated=_utc(entry.updated_at),
        author=entry.author,
        image=feed_image(site, entry.media[0]) if entry.media else None,
    )


def _blog_item(site: Site, blog: Blog) -> FeedItem:
    page = site.url(blog_path(blog.slug))
    parts = [f"<p>{escape(blog.description or blog.title)}</p>"]
    if blog.key_points:
        points = "".join(f"<li>{escape(p)}</li>" for p in blog.key_points)
        parts.append(f"<ul>{points}</ul>")
    return FeedItem(
        id=page,
        url=page,
        title=blog.title,
        html="".join(parts),
        published=_utc(blog.created_at),
        updated=_utc(blog.updated_at),
        author=site.publisher_name,
        image=feed_image(site, blog.cover) if blog.cover else None,
    )


def feed_image(site: Site, ref: MediaRef) -> FeedImage | None:
    """A picture's largest JPEG (what every feed reader shows), else its largest PNG."""
    for kind in ("jpeg", "png"):
        files = [f for f in ref.files if f.format == kind]
        if files:
            best: MediaFile = max(files, key=lambda f: f.width)
            return FeedImage(_absolute(best.url, site.base_url), best.media_type, best.bytes)
    return None


class _Text(HTMLParser):
    """The reading text of an entry's HTML, leaving out its pictures' captions and credits."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.words: list[str] = []
        self.in_figure = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "figure":
            self.in_figure += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "figure" and self.in_figure:
            self.in_figure -= 1

    def handle_data(self, data: str) -> None:
        if not self.in_figure:
            self.words += data.split()


def entry_title(entry: Entry) -> str:
    """The headline, or the first words of the text, or the first picture's caption."""
    if entry.headline.strip():
        return entry.headline.strip()
    parser = _Text()
    parser.feed(entry.html)
    parser.close()
    words = parser.words
    if not words and entry.media:
        words = (entry.media[0].caption or entry.media[0].alt).split()
    if not words:
        return "Update"
    title = " ".join(words[:TITLE_WORDS])
    if len(title) > TITLE_CHARS:
        title = title[:TITLE_CHARS].rsplit(" ", 1)[0] or title[:TITLE_CHARS]
    return title if title == " ".join(words) else title + "…"


# --- absolute URLs in our own HTML ------------------------------------------------------------

# The HTML is ours: serialised by nh3 or written by render/figures.py and render/embeds.py, so
# every attribute value is double-quoted with any '"' inside escaped, and a '<' in text is
# always '&lt;'. A tag is therefore exactly this pattern, and the attributes inside it are
# found without mistaking text that merely looks like one.
_TAG = re.compile(r"""<[A-Za-z][^\s/>]*(?:\s+[^\s"'=<>/]+(?:\s*=\s*"[^"]*")?)*\s*/?>""")
_URL_ATTR = re.compile(r'(\s(?:src|href|poster)=")([^"]*)(")')
_SRCSET_ATTR = re.compile(r'(\ssrcset=")([^"]*)(")')


def absolute_html(html: str, base_url: str) -> str:
    """The same HTML with root-relative URLs in src, href, poster and srcset made absolute."""

    def one(m: re.Match[str]) -> str:
        return m.group(1) + _absolute(m.group(2), base_url) + m.group(3)

    def srcset(m: re.Match[str]) -> str:
        candidates = []
        for candidate in m.group(2).split(","):
            url, _, size = candidate.strip().partition(" ")
            candidates.append(f"{_absolute(url, base_url)} {size}".strip())
        return m.group(1) + ", ".join(candidates) + m.group(3)

    def tag(m: re.Match[str]) -> str:
        return _SRCSET_ATTR.sub(srcset, _URL_ATTR.sub(one, m.group(0)))

    return _TAG.sub(tag, html)


def _absolute(url: str, base_url: str) -> str:
    if url.startswith("/") and not url.startswith("//"):
        return base_url + url
    return url


def _utc(moment: datetime) -> datetime:
    """In UTC, to the millisecond: every format and the JSON API then state the same instant."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=moment.microsecond // 1000 * 1000)


def _stamp(moment: datetime) -> str:
    """RFC 3339 in UTC with milliseconds and a 'Z', as the JSON API writes times."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- the three syntaxes -----------------------------------------------------------------------


class _Atom(Atom1Feed):
    """feedgenerator's Atom with the feed's own `updated` (not the newest item's, nor the
    clock's for an empty feed) and the publisher's logo."""

    def latest_post_date(self) -> datetime:
        updated: datetime = self.feed["updated"]
        return updated

    def add_root_elements(self, handler: Any) -> None:
        super().add_root_elements(handler)
        if self.feed["logo"]:
            handler.addQuickElement("logo", self.feed["logo"])


class _Rss(Rss201rev2Feed):
    """feedgenerator's RSS 2.0 with the feed's own lastBuildDate, the channel image, and each
    item's last change as atom:updated (RSS has no element of its own for it)."""

    def latest_post_date(self) -> datetime:
        updated: datetime = self.feed["updated"]
        return updated

    def add_root_elements(self, handler: Any) -> None:
        super().add_root_elements(handler)
        if self.feed["logo"]:
            handler.startElement("image", {})
            handler.addQuickElement("url", self.feed["logo"])
            handler.addQuickElement("title", self.feed["title"])
            handler.addQuickElement("link", self.feed["link"])
            handler.endElement("image")

    def add_item_elements(self, handler: Any, item: dict[str, Any]) -> None:
        super().add_item_elements(handler, item)
        handler.addQuickElement("atom:updated", rfc3339_date(item["updateddate"]))


def _enclosures(item: FeedItem) -> list[Enclosure]:
    if item.image is None:
        return []
    return [Enclosure(item.image.url, str(item.image.length), item.image.media_type)]


def atom(doc: FeedDoc) -> bytes:
    feed = _Atom(
        title=doc.title,
        link=doc.home_url,
        description=doc.description,
        language=doc.language,
        author_name=doc.author,
        author_link=doc.author_url,
        feed_url=doc.feed_path + ".atom",
        feed_guid=doc.id,
        updated=doc.updated,
        logo=doc.logo,
    )
    for item in doc.items:
        feed.add_item(
            title=item.title,
            link=item.url,
            description=None,  # Atom's summary: the full content follows
            content=item.html,
            author_name=item.author,
            pubdate=item.published,
            updateddate=item.updated,
            unique_id=item.id,
            enclosures=_enclosures(item),
        )
    text: str = feed.writeString("utf-8")
    return text.encode()


def rss(doc: FeedDoc) -> bytes:
    feed = _Rss(
        title=doc.title,
        link=doc.home_url,
        description=doc.description,
        language=doc.language,
        feed_url=doc.feed_path + ".rss",
        updated=doc.updated,
        logo=doc.logo,
    )
    for item in doc.items:
        feed.add_item(
            title=item.title,
            link=item.url,
            description=item.html,
            author_name=item.author,
            pubdate=item.published,
            updateddate=item.updated,
            unique_id=item.id,
            unique_id_is_permalink=item.id == item.url,
            enclosures=_enclosures(item),
        )
    text: str = feed.writeString("utf-8")
    return text.encode()


def json_feed(doc: FeedDoc) -> bytes:
    data: dict[str, Any] = {
        "version": JSON_FEED_VERSION,
        "title": doc.title,
        "home_page_url": doc.home_url,
        "feed_url": doc.feed_path + ".json",
        "description": doc.description,
        "authors": [{"name": doc.author, "url": doc.author_url}],
        "items": [_json_item(item) for item in doc.items],
    }
    if doc.language:
        data["language"] = doc.language
    if doc.logo:
        data["icon"] = doc.logo
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def _json_item(item: FeedItem) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": item.id,
        "url": item.url,
        "title": item.title,
        "content_html": item.html,
        "date_published": _stamp(item.published),
        "date_modified": _stamp(item.updated),
        "authors": [{"name": item.author}],
    }
    if item.image is not None:
        data["image"] = item.image.url
    return data
