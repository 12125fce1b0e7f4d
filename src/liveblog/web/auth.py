"""Bearer-token authentication for the API."""

from __future__ import annotations

from fastapi import Request

from liveblog.domain.errors import NotAuthenticated
from liveblog.domain.models import User
from liveblog.service import Liveblog


def service(request: Request) -> Liveblog:
    svc: Liveblog = request.app.state.service
    return svc


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
    """The user behind the request's token; 401 when there is none or it is not valid."""
    token = _bearer(request)
    if token is None:
        raise NotAuthenticated("this needs an API token: 'Authorization: Bearer TOKEN'")
    return service(request).user_for_token(token)


def optional_user(request: Request) -> User | None:
    token = _bearer(request)
    return None if token is None else service(request).user_for_token(token)
