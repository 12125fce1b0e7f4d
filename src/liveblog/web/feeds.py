"""Atom, RSS and JSON Feed for each blog and for the whole site.

A feed says only public things, all of which change with a blog's seq, so its ETag comes from
seq (the site's from every blog's) and a revalidation is answered with 304 before anything is
read beyond the blog row. Cached like the pages (web/caching.py): a retraction leaves every feed
at the next request, and a CDN's copies are purged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from liveblog.domain.models import Blog
from liveblog.render import feeds
from liveblog.service import Liveblog
from liveblog.web.auth import use_service
from liveblog.web.caching import public_headers
from liveblog.web.http import not_modified, seq_etag
from liveblog.web.state import site

router = APIRouter(include_in_schema=False)
Svc = Annotated[Liveblog, Depends(use_service)]
FEED_SIZE = 50
"""The newest entries a blog's feed carries, as the first page of the blog shows."""
SITE_FEED_SIZE = 50

Writer = Callable[[feeds.FeedDoc], bytes]
FORMATS: dict[str, tuple[Writer, str]] = {
    "atom": (feeds.atom, "application/atom+xml; charset=utf-8"),
    "rss": (feeds.rss, "application/rss+xml; charset=utf-8"),
    "json": (feeds.json_feed, "application/feed+json; charset=utf-8"),
}


def _answer(body: bytes, kind: str, etag: str) -> Response:
    return Response(
        body,
        media_type=FORMATS[kind][1],
        headers=public_headers(etag),
    )


def blog_feed(request: Request, svc: Liveblog, slug: str, kind: str) -> Response:
    """A blog's feed in one format, or 304 when the client holds this seq's."""
    blog = svc.blog(slug)  # NotFound for an unknown blog: the usual 404
    cached = not_modified(request, seq_etag(blog.id, blog.seq, kind))
    if cached is not None:
        return cached
    # Read again with the entries, at one seq; the ETag follows what is actually shown.
    blog, page = svc.entries(slug, FEED_SIZE)
    doc = feeds.blog_feed(site(request), blog, page.entries)
    return _answer(FORMATS[kind][0](doc), kind, seq_etag(blog.id, blog.seq, kind))


def site_etag(blogs: list[Blog], kind: str) -> str:
    """Changes when any blog's seq moves or a blog appears: a digest of the (id, seq) list."""
    state = ",".join(f"{b.id}:{b.seq}" for b in sorted(blogs, key=lambda b: b.id))
    digest = hashlib.sha256(state.encode()).hexdigest()[:20]
    return f'W/"site{digest}{kind}"'


def site_feed(request: Request, svc: Liveblog, kind: str) -> Response:
    """The site's feed of blogs in one format, or 304."""
    blogs = svc.blogs(SITE_FEED_SIZE)
    etag = site_etag(blogs, kind)
    cached = not_modified(request, etag)
    if cached is not None:
        return cached
    doc = feeds.site_feed(site(request), blogs)
    return _answer(FORMATS[kind][0](doc), kind, etag)


# Plain `def` handlers: the service's reads block, and FastAPI runs these in its thread pool.


@router.api_route("/blogs/{slug}/feed.atom", methods=["GET", "HEAD"])
def blog_atom(slug: str, request: Request, svc: Svc) -> Response:
    return blog_feed(request, svc, slug, "atom")


@router.api_route("/blogs/{slug}/feed.rss", methods=["GET", "HEAD"])
def blog_rss(slug: str, request: Request, svc: Svc) -> Response:
    return blog_feed(request, svc, slug, "rss")


@router.api_route("/blogs/{slug}/feed.json", methods=["GET", "HEAD"])
def blog_json_feed(slug: str, request: Request, svc: Svc) -> Response:
    return blog_feed(request, svc, slug, "json")


@router.api_route("/feed.atom", methods=["GET", "HEAD"])
def site_atom(request: Request, svc: Svc) -> Response:
    return site_feed(request, svc, "atom")


@router.api_route("/feed.rss", methods=["GET", "HEAD"])
def site_rss(request: Request, svc: Svc) -> Response:
    return site_feed(request, svc, "rss")


@router.api_route("/feed.json", methods=["GET", "HEAD"])
def site_json_feed(request: Request, svc: Svc) -> Response:
    return site_feed(request, svc, "json")
