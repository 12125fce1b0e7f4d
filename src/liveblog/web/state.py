"""The objects `create_app` hangs on the app, fetched for a request by name and type."""

from __future__ import annotations

from starlette.requests import Request

from liveblog.domain.site import Site
from liveblog.service import Liveblog
from liveblog.web.signing import Signer


def service(request: Request) -> Liveblog:
    svc: Liveblog = request.app.state.service
    return svc


def signer(request: Request) -> Signer:
    found: Signer = request.app.state.signer
    return found


def site(request: Request) -> Site:
    found: Site = request.app.state.site
    return found
