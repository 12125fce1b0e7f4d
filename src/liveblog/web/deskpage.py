"""The desk page of one blog: composer, worklist and the live stream with each entry's actions.

Server-rendered shell plus a small script (static/desk_blog.js) that talks to the JSON API with
the session cookie and the page's CSRF token, exactly as any API client would.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, Response

from liveblog.domain.rules import Action, may
from liveblog.web.login import login_first
from liveblog.web.sessions import signed_in
from liveblog.web.state import service, signer
from liveblog.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/desk/blogs/{slug}", response_class=HTMLResponse)
def desk_blog(slug: str, request: Request) -> Response:
    found = signed_in(request)
    if found is None:
        return login_first(request, request.url.path)
    blog = service(request).blog(slug)
    html = render(
        "desk_blog.html",
        blog=blog,
        user=found.user,
        csrf=signer(request).csrf_token(found),
        may_publish=may(found.user, Action.PUBLISH),
    )
    # A signed-in page: web/security.py keeps it (and its CSRF token) out of shared caches.
    return HTMLResponse(html)
