"""Reader pages: complete server-rendered HTML; reader.js adds live updates on top."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import HTMLResponse, Response

from liveblog.domain.models import Entry, EntryStatus
from liveblog.render.cursor import decode_cursor, encode_cursor
from liveblog.service import Liveblog
from liveblog.web.auth import service
from liveblog.web.http import not_modified, seq_etag
from liveblog.web.pagecache import PageCache
from liveblog.web.templating import render

router = APIRouter(include_in_schema=False)
Svc = Annotated[Liveblog, Depends(service)]
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
    return HTMLResponse(body, headers={"ETag": etag, "Cache-Control": "no-cache"})


def _cache(request: Request) -> PageCache:
    cache: PageCache = request.app.state.page_cache
    return cache


@router.get("/", response_class=HTMLResponse)
def front_page(svc: Svc) -> HTMLResponse:
    return HTMLResponse(render("index.html", blogs=svc.blogs()))


@router.get("/blogs/{slug}", response_class=HTMLResponse)
def blog_page(
    slug: str,
    request: Request,
    svc: Svc,
    before: Annotated[str | None, Query()] = None,
) -> Response:
    blog = svc.blog(slug)
    cursor = decode_cursor(before) if before else None
    etag = seq_etag(blog.id, blog.seq, f"p{before or ''}")
    cached = not_modified(request, etag)
    if cached is not None:
        return cached
    key = (blog.id, blog.seq, before)
    body = _cache(request).get(key)
    if body is None:
        snap = svc.snapshot(slug, PAGE_SIZE, cursor)
        blog = snap.blog  # may be a newer seq than the first read; cache under what we show
        etag = seq_etag(blog.id, blog.seq, f"p{before or ''}")
        body = render(
            "blog.html",
            blog=blog,
            pinned=snap.pinned,
            entries=snap.entries,
            older=cursor is not None,
            next_cursor=encode_cursor(*snap.next_cursor) if snap.next_cursor else None,
            template_entry=TEMPLATE_ENTRY,
        ).encode()
        _cache(request).put((blog.id, blog.seq, before), body)
    return _html(request, body, etag)


@router.get("/blogs/{slug}/entries/{entry_id}", response_class=HTMLResponse)
def entry_page(slug: str, entry_id: int, request: Request, svc: Svc) -> Response:
    blog = svc.blog(slug)
    entry = svc.entry(slug, entry_id)
    etag = seq_etag(blog.id, blog.seq, f"e{entry_id}")
    cached = not_modified(request, etag)
    if cached is not None:
        return cached
    return _html(request, render("entry.html", blog=blog, e=entry).encode(), etag)
