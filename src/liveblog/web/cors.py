"""CORS for what anyone may read: the public GETs of the API and the stream answer any origin
(`Access-Control-Allow-Origin: *`), so partner sites and scripts can use them from a browser.
Never with credentials, and never on a route that needs a sign-in or on a response made for a
signed-in browser (web/headers.py leaves those out)."""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from liveblog.web.headers import ALLOW_ANY_ORIGIN as ALLOW_ORIGIN

# The API's public reads; the stream's heads carry ALLOW_ORIGIN themselves (web/headers.py).
PUBLIC_READS = re.compile(r"/api/blogs(?:/[^/]+(?:/entries(?:/[0-9]+)?|/events|/stream)?)?|/oembed")
_PREFLIGHT = [
    ALLOW_ORIGIN,
    (b"access-control-allow-methods", b"GET, HEAD"),
    # EventSource sends Last-Event-ID when it reconnects; revalidation sends If-None-Match.
    (b"access-control-allow-headers", b"Last-Event-ID, If-None-Match"),
    (b"access-control-max-age", b"86400"),
    (b"content-length", b"0"),
]


def is_public_read(path: str) -> bool:
    return PUBLIC_READS.fullmatch(path) is not None


class PublicReads:
    """Adds ALLOW_ORIGIN to public GET and HEAD answers and answers their preflights."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_public_read(scope["path"]):
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        if method == "OPTIONS":
            await send({"type": "http.response.start", "status": 204, "headers": _PREFLIGHT})
            await send({"type": "http.response.body", "body": b""})
            return
        # A stream's heads carry the header themselves, on both writers (web/streaming/heads.py);
        # its refusals by the edge do not, on either path, so both answer the same.
        if method not in ("GET", "HEAD") or scope["path"].endswith("/stream"):
            await self.app(scope, receive, send)
            return

        async def with_origin(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                if not any(k.lower() == ALLOW_ORIGIN[0] for k, _ in headers):
                    headers.append(ALLOW_ORIGIN)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_origin)
