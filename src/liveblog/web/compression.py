"""Compressed responses, from the app itself: brotli or gzip, as the client accepts.

HTML, JSON, feeds, CSS and scripts are compressed when the client asks (`Accept-Encoding`), on
both paths: here for ASGI responses, and once per seq for the newest page the server protocol
writes from memory (web/pagecache.py). Every compressible response says `Vary: Accept-Encoding`,
compressed or not, so a shared cache keeps the variants apart. Never compressed: the event
stream (each frame must leave at once), and any response marked `no-store` — signed-in pages
and the login form carry a CSRF token, and compressing a secret next to text an attacker can
make the page reflect leaks it through the compressed length (BREACH).
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from collections import OrderedDict

import brotli
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from liveblog.web.headers import VARY

MIN_SIZE = 860
"""Smaller bodies are sent as they are: below a packet, compressing saves nothing."""
MAX_BUFFER = 4 * 1024 * 1024
"""A response with more body than this (sent in parts) passes through uncompressed."""
BROTLI_QUALITY = 5
"""Near gzip's speed, clearly smaller (measured on reader pages: bench/page.py)."""
GZIP_LEVEL = 6
COMPRESSIBLE = (
    b"text/html",
    b"text/css",
    b"text/plain",
    b"text/javascript",
    b"application/javascript",
    b"application/json",
    b"application/feed+json",
    b"application/atom+xml",
    b"application/rss+xml",
    b"application/xml",
    b"image/svg+xml",
)


def choose(accept_encoding: str) -> str | None:
    """ "br", "gzip" or None (identity) for an Accept-Encoding value, honouring q=0."""
    accepted: dict[str, float] = {}
    for part in accept_encoding.split(","):
        name, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if name:
            accepted[name.strip().lower()] = q
    star = accepted.get("*", 0.0)
    for coding in ("br", "gzip"):
        if accepted.get(coding, star) > 0:
            return coding
    return None


def encode(body: bytes, coding: str) -> bytes:
    if coding == "br":
        return bytes(brotli.compress(body, quality=BROTLI_QUALITY))
    return gzip.compress(body, GZIP_LEVEL, mtime=0)


class Compressed:
    """Compressed bodies by content digest: a page rendered once per seq is compressed once
    per coding, however many ASGI requests ask for it."""

    def __init__(self, capacity: int = 128) -> None:
        self.capacity = capacity
        self._items: OrderedDict[tuple[bytes, str], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, body: bytes, coding: str) -> bytes:
        key = (hashlib.blake2b(body, digest_size=16).digest(), coding)
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                return found
        done = encode(body, coding)
        with self._lock:
            self._items[key] = done
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
        return done


def compressible(headers: list[tuple[bytes, bytes]]) -> bool:
    """A body of a type worth compressing, not already encoded and not marked no-store."""
    kind = b""
    for name, value in headers:
        lower = name.lower()
        if lower == b"content-type":
            kind = value.split(b";", 1)[0].strip().lower()
        elif lower == b"content-encoding" or (
            lower == b"cache-control" and b"no-store" in value.lower()
        ):
            return False
    return kind in COMPRESSIBLE


def with_vary(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    for i, (name, value) in enumerate(headers):
        if name.lower() == b"vary":
            if b"accept-encoding" not in value.lower():
                headers[i] = (name, value + b", Accept-Encoding")
            return headers
    return [*headers, VARY]


def encoded_headers(
    headers: list[tuple[bytes, bytes]], coding: str, length: int
) -> list[tuple[bytes, bytes]]:
    """The headers of the compressed body: its length and coding, and a weak ETag (a strong
    one names exact bytes, and these are other bytes than the identity response's)."""
    out = []
    for name, value in headers:
        lower = name.lower()
        if lower == b"content-length":
            continue
        if lower == b"etag" and not value.startswith(b"W/"):
            value = b"W/" + value
        out.append((name, value))
    out += [(b"content-encoding", coding.encode()), (b"content-length", b"%d" % length)]
    return out


class Compression:
    """The ASGI middleware: buffers a compressible response's body, then sends it compressed
    (or as it was, when small, large, or not wanted)."""

    def __init__(self, app: ASGIApp, cache: Compressed | None = None) -> None:
        self.app = app
        self.cache = cache or Compressed()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        wanted = ""
        for name, value in scope.get("headers", ()):
            if name == b"accept-encoding":
                wanted = value.decode("latin-1")
        coding = choose(wanted) if wanted else None
        start: Message | None = None
        parts: list[bytes] = []
        size = 0
        passing = False

        async def compressing(message: Message) -> None:
            nonlocal start, size, passing
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                status = message["status"]
                if status < 200 or status in (204, 304) or not compressible(headers):
                    if status == 304:
                        message["headers"] = with_vary(headers)
                    passing = True
                    await send(message)
                    return
                message["headers"] = with_vary(headers)
                if coding is None:
                    passing = True
                    await send(message)
                    return
                start = message
                return
            if passing or message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            body = message.get("body", b"")
            parts.append(body)
            size += len(body)
            more = message.get("more_body", False)
            if more and size <= MAX_BUFFER:
                return
            whole = b"".join(parts)
            parts.clear()
            if more or size < MIN_SIZE:
                # Too big to hold (send what came, uncompressed, and pass the rest) or too
                # small to gain from it.
                passing = True
                await send(start)
                await send({"type": "http.response.body", "body": whole, "more_body": more})
                return
            assert coding is not None
            done = self.cache.get(whole, coding)
            start["headers"] = encoded_headers(list(start["headers"]), coding, len(done))
            await send(start)
            await send({"type": "http.response.body", "body": done, "more_body": False})

        await self.app(scope, receive, compressing)
