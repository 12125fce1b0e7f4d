"""Security headers on every ASGI response: a strict CSP holds because no page has inline script.

A response made for a signed-in browser (the request's state has PRIVATE set, see
web/sessions.py) may show what the public must not see, a draft say: it is also marked
`Cache-Control: private, no-store`, so no shared cache or CDN keeps it. So is the answer to any
request with an Authorization header (an API token): shared caches would otherwise store it
once the public policy carries `s-maxage` (RFC 9111, section 3.5 allows exactly that).

Which headers those are is decided in web/headers.py, for the paths outside ASGI as well.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from liveblog.web.headers import CSP, SECURITY_HEADERS, response_headers

__all__ = ["CSP", "PRIVATE", "SECURITY_HEADERS", "SecurityHeaders"]

PRIVATE = "liveblog.private"
"""The key in the request's state that marks a response private."""


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                private = bool(scope.get("state", {}).get(PRIVATE)) or _has_credentials(scope)
                message["headers"] = response_headers(message.get("headers", ()), private=private)
            await send(message)

        await self.app(scope, receive, with_headers)


def _has_credentials(scope: Scope) -> bool:
    return any(name == b"authorization" for name, _ in scope.get("headers", ()))
