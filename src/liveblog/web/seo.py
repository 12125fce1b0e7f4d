"""What crawlers are told: robots.txt (the reader pages are open, the newsroom's are not) and
the sitemap of every blog, with Google News fields for current coverage. Every URL is on the
Site's base URL, never the request's Host."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from xml.sax.saxutils import escape

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from liveblog.domain.models import Blog, BlogStatus
from liveblog.domain.site import Site, blog_path
from liveblog.render.jsonview import iso
from liveblog.web.caching import public_headers
from liveblog.web.http import not_modified
from liveblog.web.state import service, site

router = APIRouter(include_in_schema=False)

SITEMAP_MAX_URLS = 50_000
"""The sitemap protocol's limit for one file."""
NEWS_MAX = 1_000
"""Google News reads at most this many news:news entries from one sitemap."""
NEWS_WINDOW = timedelta(days=2)
"""Google News lists articles of the last two days; older, ended coverage is not news."""

# Staff pages and the API routes that are not public reading (writes, staff views, the
# endless event stream): crawling them only costs both sides.
DISALLOWED = (
    "/desk",  # the desk, and the admin page at /desk/admin
    "/login",
    "/logout",
    "/metrics",
    "/api/audit",
    "/api/preview",
    "/api/blogs/*/worklist",
    "/api/blogs/*/media",
    "/api/blogs/*/presence",
    "/api/blogs/*/withdrawn",
    "/api/blogs/*/webhooks",
    "/api/blogs/*/deliveries",
    "/api/blogs/*/stream",
    "/api/blogs/*/entries/*/revisions",
    "/api/blogs/*/entries/*/withdrawn",
)
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def robots_txt(on_site: Site) -> str:
    lines = ["User-agent: *", "Allow: /", "Allow: /blogs/"]
    lines += [f"Disallow: {path}" for path in DISALLOWED]
    lines += ["", f"Sitemap: {on_site.url('/sitemap.xml')}", ""]
    return "\n".join(lines)


def news_language(tag: str) -> str:
    """Google News names a language by its ISO 639 code, with zh-cn and zh-tw for Chinese."""
    parts = tag.lower().split("-")
    if parts[0] == "zh":
        return "zh-tw" if {"hant", "tw", "hk", "mo"} & set(parts[1:]) else "zh-cn"
    return parts[0]


def is_news(blog: Blog, now: datetime) -> bool:
    return blog.status is BlogStatus.LIVE or now - blog.updated_at <= NEWS_WINDOW


def _text(value: str) -> str:
    return escape(_NOT_XML.sub("", value))


def sitemap_xml(on_site: Site, blogs: Sequence[Blog], news: set[int]) -> str:
    """The sitemap of `blogs`; those whose id is in `news` carry Google News fields."""
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">',
    ]
    publication = _text(on_site.name)
    for blog in blogs:
        out.append("<url>")
        out.append(f"<loc>{_text(on_site.url(blog_path(blog.slug)))}</loc>")
        out.append(f"<lastmod>{iso(blog.updated_at)}</lastmod>")
        if blog.id in news:
            out += [
                "<news:news>",
                "<news:publication>",
                f"<news:name>{publication}</news:name>",
                f"<news:language>{news_language(blog.language)}</news:language>",
                "</news:publication>",
                f"<news:publication_date>{iso(blog.created_at)}</news:publication_date>",
                f"<news:title>{_text(blog.title)}</news:title>",
                "</news:news>",
            ]
        out.append("</url>")
    out.append("</urlset>\n")
    return "\n".join(out)


def _etag(*parts: object) -> str:
    return '"' + hashlib.sha256(repr(parts).encode()).hexdigest()[:32] + '"'


def _headers(etag: str) -> dict[str, str]:
    return public_headers(etag)


@router.api_route("/robots.txt", methods=["GET", "HEAD"])
def robots(request: Request) -> Response:
    body = robots_txt(site(request))
    etag = _etag(body)
    return not_modified(request, etag) or Response(
        body, media_type="text/plain; charset=utf-8", headers=_headers(etag)
    )


@router.api_route("/sitemap.xml", methods=["GET", "HEAD"])
async def sitemap(request: Request) -> Response:
    svc = service(request)
    on_site = site(request)
    blogs = await run_in_threadpool(svc.blogs, SITEMAP_MAX_URLS)
    now = svc.clock()
    # The list comes live blogs first, then the latest updated: the ones to keep.
    news = set([b.id for b in blogs if is_news(b, now)][:NEWS_MAX])
    # What the sitemap says changes only with these; a 304 needs no XML built.
    etag = _etag(on_site.base_url, on_site.name, sorted(news),
                 [(b.id, b.slug, b.title, b.language, b.updated_at) for b in blogs])  # fmt: skip
    return not_modified(request, etag) or Response(
        sitemap_xml(on_site, blogs, news),
        media_type="application/xml",
        headers=_headers(etag),
    )
