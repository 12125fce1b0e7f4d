"""What a reader page tells search engines and link previews about itself: schema.org JSON-LD
(a `LiveBlogPosting` with the updates the page shows, a `BlogPosting` on a permalink), the
canonical link, Open Graph and Twitter card tags.

Pure: from the Site, the blog and the entries a page shows to text a template prints. Every URL
is absolute on the Site's base URL and never on the request's Host (which a client chooses), so
the same bytes can be cached by (blog, seq) and sent to everyone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote

from liveblog.domain.media import MediaFile, MediaRef
from liveblog.domain.models import Blog, Entry, EntryStatus
from liveblog.domain.site import Site, blog_path
from liveblog.render.jsonview import iso

CONTEXT = "https://schema.org"
HEADLINE_MAX = 110
"""Search engines cut longer headlines; a derived one stops at a word before this."""
DESCRIPTION_MAX = 200
# Renditions a link preview can show everywhere, in order of preference.
_SHAREABLE = ("jpeg", "png")


@dataclass(frozen=True, slots=True)
class ShareImage:
    url: str
    width: int | None = None
    height: int | None = None
    alt: str = ""


@dataclass(frozen=True, slots=True)
class PageMeta:
    """The head of one reader page: canonical URL, share texts and image, and its JSON-LD."""

    canonical: str
    title: str
    description: str
    site_name: str
    locale: str | None
    image: ShareImage | None
    published: str | None
    modified: str | None
    json_ld: dict[str, Any]


# --- URLs -----------------------------------------------------------------------------------


def absolute(site: Site, url: str) -> str:
    """A rendition's or asset's URL on the site: object-store URLs are already absolute."""
    if url.startswith(("https://", "http://")):
        return url
    return site.url(url if url.startswith("/") else "/" + url)


def blog_url(site: Site, blog: Blog, before: str | None = None) -> str:
    """The canonical URL of a blog page; an older page (?before=) is its own canonical page."""
    path = blog_path(blog.slug)
    if before:
        path += f"?before={quote(before, safe='')}"
    return site.url(path)


def entry_url(site: Site, blog: Blog, entry_id: int) -> str:
    return site.url(blog_path(blog.slug, f"/entries/{entry_id}"))


def shareable_file(ref: MediaRef) -> MediaFile | None:
    """The largest JPEG rendition (PNG for a picture kept lossless): what every crawler and
    link preview can show, where AVIF and WebP are not yet understood everywhere."""
    for kind in _SHAREABLE:
        found = [f for f in ref.files if f.format == kind]
        if found:
            return max(found, key=lambda f: f.width)
    return None


def _picture(site: Site, ref: MediaRef | None) -> ShareImage | None:
    best = shareable_file(ref) if ref is not None else None
    if ref is None or best is None:
        return None
    return ShareImage(absolute(site, best.url), best.width, best.height, ref.alt)


def _fallback_image(site: Site) -> ShareImage | None:
    return ShareImage(absolute(site, site.share_image)) if site.share_image else None


# --- text -----------------------------------------------------------------------------------

_BLOCK = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "dd",
        "details",
        "div",
        "dl",
        "dt",
        "figcaption",
        "figure",
        "footer",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "td",
        "th",
        "tr",
        "ul",
    ]
)
_HIDDEN = frozenset({"script", "style", "template"})
_SPACE = re.compile(r"\s+")


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self.hidden += 1
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            # Line breaks in the markup are only layout; blocks make the text's lines.
            self.parts.append(_SPACE.sub(" ", data))


def html_text(html: str) -> str:
    """The plain text of an entry's sanitised HTML: one line per block (paragraphs, list items,
    captions), whitespace collapsed, entities decoded."""
    parser = _TextParser()
    parser.feed(html)
    parser.close()
    lines = (line.strip() for line in "".join(parser.parts).split("\n"))
    return "\n".join(line for line in lines if line)


def clip(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a word where there is one, with an ellipsis."""
    text = _SPACE.sub(" ", text).strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-") + "…"


def entry_headline(blog: Blog, entry: Entry, text: str | None = None) -> str:
    """The entry's headline, or one made from its first line, its first picture's caption or
    alt text, or at last the blog's title."""
    if entry.headline:
        return clip(entry.headline, HEADLINE_MAX)
    body = html_text(entry.html) if text is None else text
    first = body.split("\n", 1)[0] if body else ""
    if not first and entry.media:
        first = entry.media[0].caption or entry.media[0].alt
    return clip(first or blog.title, HEADLINE_MAX)


def blog_description(blog: Blog) -> str:
    return clip(blog.description or " · ".join(blog.key_points), DESCRIPTION_MAX)


def og_locale(language: str) -> str | None:
    """Open Graph's language_TERRITORY, when the tag names a territory ('pt-BR' is pt_BR); a
    bare 'en' says nothing of the territory, and guessing en_US would be wrong for half of it."""
    match = re.fullmatch(r"([a-z]{2,3})(?:-[A-Za-z]{4})?-([A-Za-z]{2})", language)
    return f"{match[1]}_{match[2].upper()}" if match else None


# --- JSON-LD --------------------------------------------------------------------------------


def _publisher(site: Site) -> dict[str, Any]:
    org: dict[str, Any] = {"@type": "Organization", "name": site.publisher_name}
    if site.publisher_logo:
        org["logo"] = {"@type": "ImageObject", "url": absolute(site, site.publisher_logo)}
    return org


def _latest(moments: Sequence[datetime | None]) -> datetime | None:
    known = [m for m in moments if m is not None]
    return max(known) if known else None


def blog_posting(site: Site, blog: Blog, entry: Entry, url: str) -> dict[str, Any]:
    """One update as a schema.org BlogPosting, with `url` where it is shown."""
    text = html_text(entry.html)
    post: dict[str, Any] = {
        "@type": "BlogPosting",
        "url": url,
        "headline": entry_headline(blog, entry, text),
        "datePublished": iso(entry.published_at),
        "dateModified": iso(_latest([entry.published_at, entry.updated_at])),
        "author": {"@type": "Person", "name": entry.author},
        "articleBody": text,
    }
    image = _picture(site, entry.media[0] if entry.media else None)
    if image is not None:
        post["image"] = image.url
    if entry.correction is not None:
        post["correction"] = {
            "@type": "CorrectionComment",
            "text": entry.correction.note,
            "datePublished": iso(entry.correction.at),
        }
    return post


def _shown(entries: Sequence[Entry]) -> list[Entry]:
    return [e for e in entries if e.status is EntryStatus.PUBLISHED]


def live_blog_posting(
    site: Site, blog: Blog, entries: Sequence[Entry], page_url: str
) -> dict[str, Any]:
    """The blog as a schema.org LiveBlogPosting; its updates are the entries this page shows
    (tombstones left out), each at `page_url#entry-ID`, so every update resolves on the page."""
    shown = _shown(entries)
    main = blog_url(site, blog)
    data: dict[str, Any] = {
        "@context": CONTEXT,
        "@type": "LiveBlogPosting",
        "@id": main,
        "url": main,
        "headline": blog.title,
        "inLanguage": blog.language,
        "coverageStartTime": iso(blog.created_at),
        "datePublished": iso(blog.created_at),
        "dateModified": iso(_latest([blog.updated_at, *(e.updated_at for e in shown)])),
        "publisher": _publisher(site),
    }
    if blog.ended_at is not None:
        data["coverageEndTime"] = iso(blog.ended_at)
    if description := blog_description(blog):
        data["description"] = description
    if image := _picture(site, blog.cover) or _fallback_image(site):
        data["image"] = image.url
    data["liveBlogUpdate"] = [
        blog_posting(site, blog, e, f"{page_url}#entry-{e.id}") for e in shown
    ]
    return data


def blog_page_meta(
    site: Site, blog: Blog, entries: Sequence[Entry], before: str | None = None
) -> PageMeta:
    """The head of a blog page: `entries` are all it shows (pinned and the list), `before` the
    normalised cursor of an older page."""
    canonical = blog_url(site, blog, before)
    data = live_blog_posting(site, blog, entries, canonical)
    return PageMeta(
        canonical=canonical,
        title=blog.title,
        description=data.get("description", ""),
        site_name=site.name,
        locale=og_locale(blog.language),
        image=_picture(site, blog.cover) or _fallback_image(site),
        published=data["datePublished"],
        modified=data["dateModified"],
        json_ld=data,
    )


def entry_page_meta(site: Site, blog: Blog, entry: Entry) -> PageMeta:
    """The head of an entry's permalink: its own BlogPosting, part of the blog's LiveBlogPosting."""
    canonical = entry_url(site, blog, entry.id)
    data = {"@context": CONTEXT, **blog_posting(site, blog, entry, canonical)}
    data["isPartOf"] = blog_url(site, blog)
    data["inLanguage"] = blog.language
    data["publisher"] = _publisher(site)
    image = (
        _picture(site, entry.media[0] if entry.media else None)
        or _picture(site, blog.cover)
        or _fallback_image(site)
    )
    if image is not None:
        data["image"] = image.url
    return PageMeta(
        canonical=canonical,
        title=data["headline"],
        description=clip(data["articleBody"], DESCRIPTION_MAX) or blog_description(blog),
        site_name=site.name,
        locale=og_locale(blog.language),
        image=image,
        published=data["datePublished"],
        modified=data["dateModified"],
        json_ld=data,
    )


# --- markup ---------------------------------------------------------------------------------


def script_json(data: Any) -> str:
    """JSON for a `<script type="application/ld+json">` block: no text in it can close the
    script (`</` is written `<\\/`) or open an HTML comment there (`<!--`)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("</", "<\\/").replace("<!--", "<\\u0021--")


def head_tags(meta: PageMeta) -> str:
    """The canonical link, description, Open Graph and Twitter card tags and the JSON-LD
    block, escaped, for a page's <head>."""
    tags: list[tuple[str, str, str]] = []  # (attribute, name, content)

    def add(attr: str, name: str, content: str | int | None) -> None:
        if content not in (None, ""):
            tags.append((attr, name, str(content)))

    add("name", "description", meta.description)
    add("property", "og:type", "article")
    add("property", "og:title", meta.title)
    add("property", "og:description", meta.description)
    add("property", "og:url", meta.canonical)
    add("property", "og:site_name", meta.site_name)
    add("property", "og:locale", meta.locale)
    add("property", "article:published_time", meta.published)
    add("property", "article:modified_time", meta.modified)
    image = meta.image
    if image is not None:
        add("property", "og:image", image.url)
        add("property", "og:image:width", image.width)
        add("property", "og:image:height", image.height)
        add("property", "og:image:alt", image.alt)
    add("name", "twitter:card", "summary_large_image" if image else "summary")
    add("name", "twitter:title", meta.title)
    add("name", "twitter:description", meta.description)
    if image is not None:
        add("name", "twitter:image", image.url)
        add("name", "twitter:image:alt", image.alt)
    lines = [f'<link rel="canonical" href="{escape(meta.canonical)}">']
    lines += [f'<meta {a}="{escape(n)}" content="{escape(c)}">' for a, n, c in tags]
    lines.append(f'<script type="application/ld+json">{script_json(meta.json_ld)}</script>')
    return "\n".join(lines)
