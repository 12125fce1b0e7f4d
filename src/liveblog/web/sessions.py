"""Browser sessions at the HTTP edge: the cookies, the CSRF check, and marking what a
signed-in browser is shown as private (web/security.py then keeps it out of shared caches)."""

from __future__ import annotations

import contextlib
from urllib.parse import parse_qsl

from fastapi import Request
from starlette.responses import Response

from liveblog.domain.errors import Forbidden, NotAuthenticated
from liveblog.usecases.sessions import SignedIn
from liveblog.web.security import PRIVATE
from liveblog.web.state import service, signer

SESSION_COOKIE = "lb_session"
LOGIN_COOKIE = "lb_login"
"""Holds the random value the login form's CSRF token is derived from (double submit)."""
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_STATE_KEY = "liveblog.signed_in"
MAX_FORM_FIELDS = 20

CSRF_FORM_MESSAGE = (
    "this form has expired or did not come from this site (its CSRF token is missing or "
    "wrong); reload the page and try again"
)
SESSION_ENDED_API = "your session has ended; log in again at /login"
CSRF_API_MESSAGE = (
    "a request signed in with the session cookie must carry the session's CSRF token in the "
    f"'{CSRF_HEADER}' header (the desk page has it in <meta name=\"csrf-token\">); scripts "
    "outside the desk should use an API token instead"
)


def is_https(request: Request) -> bool:
    # web/proxies.py has already applied a trusted proxy's X-Forwarded-Proto.
    return request.url.scheme == "https"


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


def signed_in(request: Request) -> SignedIn | None:
    """The request's live session, or None (no cookie, or one that no longer counts). Reads
    the database once per request; the answer is kept on the request."""
    state = request.scope.setdefault("state", {})
    if _STATE_KEY not in state:
        cookie = request.cookies.get(SESSION_COOKIE)
        found = None
        session_id = signer(request).session_id(cookie) if cookie else None
        if session_id is not None:
            with contextlib.suppress(NotAuthenticated):
                found = service(request).session(session_id)
        state[_STATE_KEY] = found
        if found is not None:
            state[PRIVATE] = True
    result: SignedIn | None = state[_STATE_KEY]
    return result


def session_user_for_api(request: Request) -> SignedIn:
    """The session behind an API request that has no bearer token: 401 without a live one,
    403 when a state-changing request lacks the session's CSRF token."""
    found = signed_in(request)
    if found is None:
        if request.cookies.get(SESSION_COOKIE):
            raise NotAuthenticated(SESSION_ENDED_API)
        raise NotAuthenticated("this needs an API token: 'Authorization: Bearer TOKEN'")
    if request.method not in SAFE_METHODS and not signer(request).csrf_ok(
        found, request.headers.get(CSRF_HEADER)
    ):
        raise Forbidden(CSRF_API_MESSAGE)
    return found


def csrf_ok(request: Request, found: SignedIn, form: dict[str, str]) -> bool:
    """A form's CSRF token (hidden field, or the header scripts send) matches the session."""
    token = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER)
    return signer(request).csrf_ok(found, token)


async def read_form(request: Request) -> dict[str, str]:
    """The fields of a urlencoded form (what a plain HTML form sends); {} for anything else.
    The body is already capped by web/limits.py."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        return {}
    body = (await request.body()).decode("utf-8", "replace")
    try:
        pairs = parse_qsl(body, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except ValueError:
        return {}
    return dict(pairs)


def set_cookie(
    request: Request, response: Response, name: str, value: str, max_age: int, path: str = "/"
) -> None:
    """Our cookies are never readable by scripts, not sent along by other sites' subrequests
    or form posts (SameSite=Lax), and Secure whenever the page came over HTTPS."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=path,
        secure=is_https(request),
        httponly=True,
        samesite="lax",
    )


def clear_cookie(request: Request, response: Response, name: str, path: str = "/") -> None:
    response.delete_cookie(name, path=path, secure=is_https(request), httponly=True, samesite="lax")


def clear_session_cookie(request: Request, response: Response) -> None:
    clear_cookie(request, response, SESSION_COOKIE)
