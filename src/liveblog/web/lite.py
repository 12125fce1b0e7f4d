"""The lite page: a blog as plain HTML for slow, metered or censored networks — no script, no
web fonts, pictures only as links — the same entries as the reader page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import HTMLResponse, Response

from liveblog.domain.site import blog_path
from liveblog.render.cursor import decode_cursor, encode_cursor
from liveblog.web.caching import public_headers
from liveblog.web.http import not_modified, seq_etag
from liveblog.web.reader import PAGE_SIZE
from liveblog.web.state import service, site
from liveblog.web.templating import render

router = APIRouter(include_in_schema=False)


@router.api_route("/blogs/{slug}/lite", methods=["GET", "HEAD"], response_class=HTMLResponse)
def lite_page(
    slug: str, request: Request, before: Annotated[str | None, Query()] = None
) -> Response:
    svc = service(request)
    cursor = decode_cursor(before) if before else None
    snap = svc.snapshot(slug, PAGE_SIZE, cursor)
    blog = snap.blog
    etag = seq_etag(blog.id, blog.seq, f"lite{before or ''}")
    cached = not_modified(request, etag)
    if cached is not None:
        return cached
    here = site(request)
    body = render(
        "lite.html",
        blog=blog,
        entries=[*snap.pinned, *snap.entries],
        next_cursor=encode_cursor(*snap.next_cursor) if snap.next_cursor else None,
        canonical=here.url(blog_path(blog.slug)),
        site_name=here.name,
    )
    return HTMLResponse(body, headers=public_headers(etag))
