"""Reader pages: complete server-rendered HTML; reader.js adds live updates on top."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, Response

from liveblog.domain.errors import NotFound
from liveblog.domain.models import Blog, Entry, EntryStatus
from liveblog.domain.site import Site, blog_path
from liveblog.render.cursor import decode_cursor, encode_cursor
from liveblog.render.structured import blog_page_meta, entry_page_meta, head_tags
from liveblog.service import Liveblog
from liveblog.web.auth import use_service
from liveblog.web.caching import public_headers
from liveblog.web.compression import choose
from liveblog.web.http import not_modified, seq_etag
from liveblog.web.pagecache import PageCache, Rendered, newest_page, rendered
from liveblog.web.state import service, site
from liveblog.web.templating import render

router = APIRouter(include_in_schema=False)
Svc = Annotated[Liveblog, Depends(use_service)]
PAGE_SIZE = 50

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# What reader.js clones to show an entry that arrives live; the same markup as the server's.
TEMPLATE_ENTRY = Entry(
    id=0,
    blog_id=0,
    author="",
    status=EntryStatus.PUBLISHED,
    headline="",
    body="",
    html="",
    pinned=False,
    key_event=False,
    version=1,
    created_at=_EPOCH,
    updated_at=_EPOCH,
    published_at=_EPOCH,
)


def _html(request: Request, body: bytes, etag: str) -> Response:
    return HTMLResponse(body, headers=public_headers(etag))


def _cache(request: Request) -> PageCache:
    cache: PageCache = request.app.state.page_cache
    return cache


@router.get("/", response_class=HTMLResponse)
def front_page(svc: Svc) -> HTMLResponse:
    # A new blog must show up at once, also behind a CDN: revalidate every time.
    html = render("index.html", blogs=svc.blogs())
    return HTMLResponse(html, headers=public_headers())


@router.get("/blogs/{slug}", response_class=HTMLResponse)
async def blog_page(
    slug: str,
    request: Request,
    before: Annotated[str | None, Query()] = None,
) -> Response:
    svc = service(request)
    cache = _cache(request)
    cursor = decode_cursor(before) if before else None
    blog = await run_in_threadpool(svc.blog, slug)
    # From now on the hub tracks this blog's seq, which is what keeps cached pages honest.
    request.app.state.hub.observe(blog)
    variant = f"p{before or ''}"
    etag = seq_etag(blog.id, blog.seq, variant)
    cached = cache.get((blog.id, blog.seq, before))
    if cached is None:
        blog, page = await run_in_threadpool(_render_blog_page, svc, site(request), slug, cursor)
        etag = seq_etag(blog.id, blog.seq, variant)
        cache.put((blog.id, blog.seq, before), page)
    else:
        page = cached
    if before is None:
        now = asyncio.get_running_loop().time()
        current = cache.newest.get(slug)
        if current is not None and current.page is page and current.etag == etag:
            current.checked_at = now  # the store has just confirmed this seq: heads unchanged
        else:
            cache.newest[slug] = newest_page(blog.seq, etag, page, checked_at=now)
    return not_modified(request, etag) or _page(request, page, etag)


def _page(request: Request, page: Rendered, etag: str) -> Response:
    """The page in the coding the client accepts, compressed when it was rendered (the
    compression middleware leaves an encoded response alone)."""
    coding = choose(request.headers.get("accept-encoding", ""))
    headers = {**public_headers(etag), "Vary": "Accept-Encoding"}
    if coding is not None:
        headers["Content-Encoding"] = coding
    return HTMLResponse(page.variant(coding), headers=headers)


def last_change(blog: Blog, shown: list[Entry]) -> datetime:
    """When the page last changed for a reader: the blog's own edits or its newest entry's."""
    times = [blog.updated_at]
    times += [e.updated_at for e in shown if e.status is EntryStatus.PUBLISHED]
    times += [e.published_at for e in shown if e.published_at is not None]
    return max(times)


def _render_blog_page(
    svc: Liveblog, on_site: Site, slug: str, cursor: tuple[datetime, int] | None
) -> tuple[Blog, Rendered]:
    snap = svc.snapshot(slug, PAGE_SIZE, cursor)
    # From the Site and the snapshot alone (never the request): the page is cached and shared.
    before = encode_cursor(*cursor) if cursor else None
    meta = blog_page_meta(on_site, snap.blog, [*snap.pinned, *snap.entries], before)
    body = render(
        "blog.html",
        head=head_tags(meta),
        blog=snap.blog,
        last_updated=last_change(snap.blog, [*snap.pinned, *snap.entries]),
        pinned=snap.pinned,
        entries=snap.entries,
        older=cursor is not None,
        next_cursor=encode_cursor(*snap.next_cursor) if snap.next_cursor else None,
        template_entry=TEMPLATE_ENTRY,
        oembed_url="/oembed?"
        + urlencode({"url": on_site.url(blog_path(snap.blog.slug)), "format": "json"}),
    ).encode()
    return snap.blog, rendered(body)


@router.get("/blogs/{slug}/entries/{entry_id}", response_class=HTMLResponse)
def entry_page(slug: str, entry_id: int, request: Request, svc: Svc) -> Response:
    if not 0 < entry_id < 2**63:  # as the API answers: an id no entry can have is not found
        raise NotFound(f"no entry {entry_id} in this blog")
    blog = svc.blog(slug)
    entry = svc.entry(slug, entry_id)
    etag = seq_etag(blog.id, blog.seq, f"e{entry_id}")
    cached = not_modified(request, etag)
    if cached is not None:
        return cached
    head = head_tags(entry_page_meta(site(request), blog, entry))
    return _html(request, render("entry.html", blog=blog, e=entry, head=head).encode(), etag)
