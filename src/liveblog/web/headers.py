"""The headers of every response, whichever path writes it, built in one place.

Three paths write responses: ASGI (through uvicorn, which adds its own `date` and `server`
lines from `server_state.default_headers`, refreshed once a second), the server protocol's page
from memory (web/fastpath.py, web/pagecache.py), and the lean stream writer, which writes
straight to the socket. `response_headers` is the one list of what every response carries on
top of a view's own headers; `Head` turns a status and such a list into HTTP/1.1 bytes that
are ready except for uvicorn's defaults, which are spliced in per write so the raw paths send
exactly the `date` and `server` lines uvicorn would. Later headers every response needs (CORS,
compression, caching) belong in `response_headers` and reach all paths at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from http import HTTPStatus

from liveblog.render.embeds import frame_sources

Header = tuple[bytes, bytes]


def content_security_policy(frame_ancestors: Iterable[str] = ()) -> str:
    """Frames only from the embed table's hosts (render/embeds.py), and only once a reader
    asks; blob: images are the desk's previews of photos not yet uploaded (made by its own
    script); pages framed only by this site and the configured partner origins."""
    ancestors = " ".join(["'self'", *frame_ancestors])
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        "img-src 'self' https: data: blob:; connect-src 'self'; object-src 'none'; "
        f"base-uri 'none'; form-action 'self'; frame-ancestors {ancestors}; "
        "frame-src " + " ".join(frame_sources())
    )


CSP = content_security_policy()
SECURITY_HEADERS: list[Header] = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
]


def allow_framing_by(origins: Iterable[str]) -> None:
    """Let these partner origins frame the pages (LIVEBLOG_FRAME_ORIGINS), for every path:
    the process serves one site, and the list every path reads is changed in place."""
    SECURITY_HEADERS[0] = (b"content-security-policy", content_security_policy(origins).encode())


PRIVATE_CACHE = b"private, no-store"
"""What a response for a signed-in browser says to caches: it may show drafts."""

# Public reads answer any origin, never with credentials (web/cors.py for the API's).
ALLOW_ANY_ORIGIN: Header = (b"access-control-allow-origin", b"*")
# The headers both stream writers send (the lean one adds `connection: close`). A stream is
# public, so any origin may read it.
STREAM_HEADERS: list[Header] = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    ALLOW_ANY_ORIGIN,
    (b"cache-control", b"no-cache, no-transform"),
    (b"x-accel-buffering", b"no"),  # nginx: pass frames through as they come
]
JSON = (b"content-type", b"application/json")
VARY: Header = (b"vary", b"Accept-Encoding")
"""On every compressible response, compressed or not (web/compression.py)."""
CLOSE = (b"connection", b"close")


def response_headers(own: Iterable[Header] = (), *, private: bool = False) -> list[Header]:
    """A view's own headers followed by those every response carries. `private` replaces any
    cache-control with "private, no-store", so no shared cache keeps a signed-in page."""
    headers = list(own)
    if private:
        headers = [(k, v) for k, v in headers if k.lower() != b"cache-control"]
        headers.append((b"cache-control", PRIVATE_CACHE))
    headers += SECURITY_HEADERS
    return headers


def status_line(status: int) -> bytes:
    """The status line uvicorn writes: the standard reason phrase, empty for an unknown code."""
    try:
        phrase = HTTPStatus(status).phrase.encode()
    except ValueError:
        phrase = b""
    return b"HTTP/1.1 %d %s\r\n" % (status, phrase)


def header_lines(headers: Iterable[Header]) -> bytes:
    return b"".join(name + b": " + value + b"\r\n" for name, value in headers)


_defaults: tuple[object, bytes] = (None, b"")


def default_lines(defaults: Sequence[Header]) -> bytes:
    """uvicorn's default header lines (`date`, `server`), encoded once per change: uvicorn
    replaces the list once a second, so an identity check is all a write costs."""
    global _defaults
    if _defaults[0] is not defaults:
        _defaults = (defaults, header_lines(defaults))
    return _defaults[1]


@dataclass(frozen=True, slots=True)
class Head:
    """A response head as bytes, ready but for uvicorn's default lines, which `encode` puts
    where uvicorn puts them: right after the status line."""

    status: int
    first: bytes
    rest: bytes

    def encode(self, defaults: Sequence[Header], *, close: bool = False) -> bytes:
        """The head to write now; `close` adds `connection: close`, as uvicorn does when the
        connection will not be kept alive."""
        closing = b"connection: close\r\n" if close else b""
        return b"".join((self.first, default_lines(defaults), self.rest, closing, b"\r\n"))


def head(status: int, own: Iterable[Header] = (), *, private: bool = False) -> Head:
    """The head of a response written straight to the socket, with every common header."""
    return Head(status, status_line(status), header_lines(response_headers(own, private=private)))


def json_error(
    status: int, body: bytes, defaults: Sequence[Header], extra: Iterable[Header] = ()
) -> bytes:
    """A whole JSON error response that closes the connection, for writers outside ASGI."""
    own = [JSON, (b"content-length", b"%d" % len(body)), *extra, VARY, CLOSE]
    return head(status, own).encode(defaults) + body
