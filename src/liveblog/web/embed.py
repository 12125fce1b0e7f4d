"""The blog on partners' sites: the framable embed page, kept live by the reader script and
sized by its frame (static/embed_frame.js, static/embed.js), and oEmbed, so a partner's CMS
turns a pasted blog URL into that frame by itself."""

from __future__ import annotations

import re
from html import escape
from typing import Annotated
from urllib.parse import unquote, urlsplit

from fastapi import APIRouter, Query, Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from liveblog.domain.errors import InvalidInput, NotFound
from liveblog.domain.site import blog_path
from liveblog.web.caching import public_headers
from liveblog.web.http import not_modified, seq_etag
from liveblog.web.reader import TEMPLATE_ENTRY
from liveblog.web.state import service, site
from liveblog.web.templating import render

router = APIRouter(include_in_schema=False)
EMBED_ENTRIES = 20
DEFAULT_HEIGHT = 600
_BLOG_PATH = re.compile(r"/blogs/([^/?#]{1,960})(?:/entries/[0-9]{1,19}|/embed|/lite)?/?")


@router.api_route("/blogs/{slug}/embed", methods=["GET", "HEAD"], response_class=HTMLResponse)
def embed_page(slug: str, request: Request) -> Response:
    snap = service(request).snapshot(slug, EMBED_ENTRIES)
    blog = snap.blog
    etag = seq_etag(blog.id, blog.seq, "embed")
    cached = not_modified(request, etag)
    if cached is not None:
        return cached
    here = site(request)
    body = render(
        "embed.html",
        blog=blog,
        pinned=snap.pinned,
        entries=snap.entries,
        older=False,
        next_cursor="more" if snap.next_cursor else None,
        template_entry=TEMPLATE_ENTRY,
        canonical=here.url(blog_path(blog.slug)),
        site_name=here.name,
    )
    return HTMLResponse(body, headers=public_headers(etag))


@router.get("/oembed")
def oembed(
    request: Request,
    url: Annotated[str, Query(max_length=2000)],
    format: Annotated[str, Query()] = "json",
    maxwidth: Annotated[int | None, Query(ge=1, le=10_000)] = None,
    maxheight: Annotated[int | None, Query(ge=1, le=10_000)] = None,
) -> Response:
    """oEmbed 1.0 (https://oembed.com): a rich embed of the blog a URL of this site names."""
    if format != "json":
        # The spec's answer for a format the provider does not offer.
        return JSONResponse({"error": "only format=json is offered", "status": 501}, 501)
    here = site(request)
    parts = urlsplit(url)
    ours = urlsplit(here.base_url)
    if (parts.scheme, parts.netloc) != (ours.scheme, ours.netloc):
        raise NotFound("that URL is not a live blog of this site")
    match = _BLOG_PATH.fullmatch(parts.path.removeprefix(ours.path.rstrip("/")))
    if match is None:
        raise NotFound("that URL is not a live blog of this site")
    blog = service(request).blog(unquote(match.group(1)))  # a URL pasted as an IRI or encoded
    height = min(DEFAULT_HEIGHT, maxheight or DEFAULT_HEIGHT)
    width = maxwidth
    src = here.url(blog_path(blog.slug, "/embed"))
    size = f' width="{width}"' if width else ' width="100%"'
    html = (
        f'<iframe src="{escape(src)}"{size} height="{height}" frameborder="0" '
        f'title="{escape(blog.title)}" loading="lazy"></iframe>'
    )
    if width is not None and width < 200:
        raise InvalidInput("maxwidth", "a live blog needs at least 200 pixels")
    body = {
        "version": "1.0",
        "type": "rich",
        "title": blog.title,
        "provider_name": here.name,
        "provider_url": here.base_url,
        "html": html,
        "width": width or 600,
        "height": height,
        "cache_age": 3600,
    }
    return JSONResponse(body, headers={"Cache-Control": "public, max-age=3600"})
