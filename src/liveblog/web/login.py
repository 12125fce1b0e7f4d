"""Logging in and out; the desk's pages send a browser without a session here (`login_first`).

Pages are plain HTML forms: they work without JavaScript, and carry no inline script, so the
strict Content-Security-Policy holds. Every form that changes something carries a CSRF token.
"""

from __future__ import annotations

import re
from functools import partial
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, RedirectResponse, Response

from liveblog import credentials
from liveblog.domain.errors import Forbidden, NotAuthenticated, TooManyAttempts
from liveblog.web.errors import error_response
from liveblog.web.sessions import (
    CSRF_FIELD,
    CSRF_FORM_MESSAGE,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    clear_cookie,
    clear_session_cookie,
    client_address,
    csrf_ok,
    read_form,
    set_cookie,
    signed_in,
)
from liveblog.web.state import service, signer
from liveblog.web.statuses import status_of
from liveblog.web.templating import render

router = APIRouter(include_in_schema=False)

DESK = "/desk"
NOT_STORED = {"Cache-Control": "no-store"}
LOGIN_COOKIE_SECONDS = 24 * 3600
_NONCE_RE = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
NOTICES = {
    "1": "You are logged out.",
    "everywhere": "You are logged out on every device.",
}


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a local path under /desk, else /desk. Anything else
    (another site, `//host`, a backslash browsers read as a slash) would make the login page
    an open redirect."""
    if not target or "\\" in target or any(ord(c) <= 32 or ord(c) == 127 for c in target):
        return DESK
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/"):
        return DESK
    if parts.path == DESK or parts.path.startswith(DESK + "/"):
        return target
    return DESK


def _login_page(
    request: Request,
    status: int = 200,
    *,
    message: str = "",
    name: str = "",
    next_path: str = DESK,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    if not _NONCE_RE.match(nonce):
        nonce = credentials.new_session_id()
    notice = NOTICES.get(request.query_params.get("out", "")) if request.method == "GET" else None
    html = render(
        "login.html",
        message=message,
        notice=notice,
        username=name,
        next=next_path,
        csrf=signer(request).login_csrf_token(nonce),
    )
    response = HTMLResponse(html, status_code=status, headers={**NOT_STORED, **(headers or {})})
    set_cookie(request, response, LOGIN_COOKIE, nonce, LOGIN_COOKIE_SECONDS, path="/login")
    return response


def _to_login(request: Request, query: str = "") -> RedirectResponse:
    response = RedirectResponse("/login" + query, status_code=303, headers=NOT_STORED)
    if request.cookies.get(SESSION_COOKIE):
        clear_session_cookie(request, response)
    return response


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = DESK) -> Response:
    if signed_in(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303, headers=NOT_STORED)
    return _login_page(request, next_path=safe_next(next))


@router.post("/login")
async def login(request: Request) -> Response:
    form = await read_form(request)
    name = form.get("username", "").strip()
    page = partial(_login_page, request, name=name, next_path=safe_next(form.get("next")))
    sign, svc = signer(request), service(request)
    if not sign.login_csrf_ok(request.cookies.get(LOGIN_COOKIE, ""), form.get(CSRF_FIELD)):
        return page(403, message=CSRF_FORM_MESSAGE)
    old_cookie = request.cookies.get(SESSION_COOKIE)
    attempt = partial(
        svc.login,
        name,
        form.get("password", ""),
        address=client_address(request),
        user_agent=request.headers.get("user-agent", ""),
        replacing=sign.session_id(old_cookie) if old_cookie else None,
    )
    try:
        # argon2 takes tens of milliseconds of CPU: off the event loop.
        found = await run_in_threadpool(attempt)
    except TooManyAttempts as exc:
        return page(429, message=exc.message, headers={"Retry-After": str(exc.retry_after)})
    except (NotAuthenticated, Forbidden) as exc:
        return page(status_of(exc), message=exc.message)
    response = RedirectResponse(safe_next(form.get("next")), status_code=303, headers=NOT_STORED)
    lifetime = int(svc.policy.lifetime.total_seconds())
    set_cookie(request, response, SESSION_COOKIE, sign.session_cookie(found), lifetime)
    clear_cookie(request, response, LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    return await _logout(request, everywhere=False)


@router.post("/logout-everywhere")
async def logout_everywhere(request: Request) -> Response:
    return await _logout(request, everywhere=True)


async def _logout(request: Request, *, everywhere: bool) -> Response:
    form = await read_form(request)
    found = await run_in_threadpool(signed_in, request)
    if found is None:
        return _to_login(request)  # nothing left to end
    if not csrf_ok(request, found, form):
        return error_response(request, 403, CSRF_FORM_MESSAGE)
    svc = service(request)
    if everywhere:
        await run_in_threadpool(svc.logout_everywhere, found.user)
    else:
        await run_in_threadpool(svc.logout, found)
    return _to_login(request, "?out=" + ("everywhere" if everywhere else "1"))


def login_first(request: Request, next_path: str | None = None) -> RedirectResponse:
    """To the login page, which sends the user on to `next_path` (default: this page) after."""
    if next_path is None:
        next_path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return _to_login(request, "?" + urlencode({"next": next_path}))
