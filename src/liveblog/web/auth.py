"""Who is calling the API: a bearer token, or else the desk's session cookie (whose
state-changing requests must also carry the session's CSRF token, see web/sessions.py)."""

from __future__ import annotations

from fastapi import Request

from liveblog.domain.errors import NotAuthenticated
from liveblog.domain.models import User
from liveblog.service import Liveblog
from liveblog.web.sessions import session_user_for_api, signed_in
from liveblog.web.state import service


async def use_service(request: Request) -> Liveblog:
    """`service` as a dependency: async, so FastAPI spends no thread-pool round trip on it."""
    return service(request)


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated("use an 'Authorization: Bearer TOKEN' header")
    return token.strip()


def current_user(request: Request) -> User:
    """The user behind the request's token or session; 401 when there is none or it is not
    valid, 403 for a session request that changes something without its CSRF token."""
    token = _bearer(request)
    if token is None:
        return session_user_for_api(request).user
    return service(request).user_for_token(token)


def optional_user(request: Request) -> User | None:
    token = _bearer(request)
    if token is None:
        found = signed_in(request)
        return None if found is None else found.user
    return service(request).user_for_token(token)
