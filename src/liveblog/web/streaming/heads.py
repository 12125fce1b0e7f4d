"""The response heads both stream writers send, built by web/headers.py like every other head.

A stream is always the last response on its connection (`connection: close` on both writers),
so a request pipelined behind it is answered the same way whichever writer serves it: not at all.
"""

from __future__ import annotations

from liveblog.render.jsonview import dumps
from liveblog.web.headers import ALLOW_ANY_ORIGIN, CLOSE, JSON, STREAM_HEADERS, Header, head

STREAM: list[Header] = [*STREAM_HEADERS, CLOSE]
NO_CONTENT: list[Header] = [ALLOW_ANY_ORIGIN, CLOSE]

# Written straight to a socket (the ASGI writer passes the lists above to the server instead).
STREAM_HEAD = head(200, STREAM)
NO_CONTENT_HEAD = head(204, NO_CONTENT)


def error_body(status: int, message: str) -> bytes:
    return dumps({"error": message, "status": status}).encode()


def error_headers(body: bytes) -> list[Header]:
    return [JSON, (b"content-length", b"%d" % len(body)), ALLOW_ANY_ORIGIN, CLOSE]
