"""The desk page of one blog: composer, worklist and the live stream with each entry's actions.

Server-rendered shell plus a small script (static/desk_blog.js) that talks to the JSON API with
the session cookie and the page's CSRF token, exactly as any API client would.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from liveblog.domain.rules import Action, may
from liveblog.web.auth import service
from liveblog.web.sessions import accounts, signed_in
from liveblog.web.templating import render

router = APIRouter(include_in_schema=False)

# The page carries the session's CSRF token: never store it in a shared cache.
PRIVATE = {"Cache-Control": "private, no-store"}


@router.get("/desk/blogs/{slug}", response_class=HTMLResponse)
def desk_blog(slug: str, request: Request) -> Response:
    found = signed_in(request)
    if found is None:
        return RedirectResponse("/login?" + urlencode({"next": request.url.path}), status_code=303)
    blog = service(request).blog(slug)
    html = render(
        "desk_blog.html",
        blog=blog,
        user=found.user,
        csrf=accounts(request).csrf_token(found),
        may_publish=may(found.user, Action.PUBLISH),
    )
    return HTMLResponse(html, headers=PRIVATE)
