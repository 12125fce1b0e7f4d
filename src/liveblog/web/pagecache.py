"""Rendered reader pages, kept in memory: a page is rendered once per change of its blog.

Pages are keyed by (blog, seq, variant), so a change (which always moves seq) can never be
answered with an old page. The newest page of each blog is also kept whole as HTTP/1.1 response
bytes, which the server's protocol (web/fastpath.py) writes straight to the socket while the
hub's seq for that blog still matches it and the store confirmed that seq within `max_age`
seconds (writes from other processes reach this one through the store, not the hub).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from threading import Lock

from liveblog.web.caching import public_cache_control
from liveblog.web.compression import encode
from liveblog.web.headers import VARY, Head, head


@dataclass(frozen=True, slots=True)
class Rendered:
    """A page's bytes as rendered, and compressed once in each coding a client may ask for."""

    body: bytes
    br: bytes
    gzip: bytes

    def variant(self, coding: str | None) -> bytes:
        return self.br if coding == "br" else self.gzip if coding == "gzip" else self.body


def rendered(body: bytes) -> Rendered:
    """Compress a freshly rendered page (in the rendering thread, once per seq)."""
    return Rendered(body, encode(body, "br"), encode(body, "gzip"))


@dataclass(slots=True)
class NewestPage:
    """A blog's newest page as ready-to-send bytes, a head and body per coding (the heads lack
    only uvicorn's `date` and `server` lines, which the writer adds: see web/headers.py)."""

    seq: int
    etag: str
    heads: dict[str | None, Head]
    page: Rendered
    not_modified: Head
    checked_at: float
    confirming: bool = False

    def answer(self, coding: str | None) -> tuple[Head, bytes]:
        return self.heads[coding], self.page.variant(coding)


def newest_page(seq: int, etag: str, page: Rendered, checked_at: float) -> NewestPage:
    # The headers the ASGI view sends (web/reader.py, web/compression.py).
    validators = [(b"etag", etag.encode()), (b"cache-control", public_cache_control().encode())]
    heads: dict[str | None, Head] = {}
    for coding in (None, "br", "gzip"):
        body = page.variant(coding)
        full = [
            (b"content-length", b"%d" % len(body)),
            (b"content-type", b"text/html; charset=utf-8"),
            *validators,
            VARY,
        ]
        if coding is not None:
            full.append((b"content-encoding", coding.encode()))
        heads[coding] = head(200, full)
    return NewestPage(seq, etag, heads, page, head(304, [*validators, VARY]), checked_at)


class PageCache:
    def __init__(self, capacity: int = 256, max_age: float = 1.0) -> None:
        self.capacity = capacity
        self.max_age = max_age
        self._items: OrderedDict[tuple[object, ...], Rendered] = OrderedDict()
        self._lock = Lock()  # the ASGI views render in a thread pool
        self.newest: dict[str, NewestPage] = {}
        self.served_from_memory = 0  # answered by the server protocol without ASGI

    def get(self, key: tuple[object, ...]) -> Rendered | None:
        with self._lock:
            body = self._items.get(key)
            if body is not None:
                self._items.move_to_end(key)
            return body

    def put(self, key: tuple[object, ...], body: Rendered) -> None:
        with self._lock:
            self._items[key] = body
            self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)

    def servable(
        self, slug: str, hub_seq: int | None, now: float
    ) -> tuple[NewestPage | None, bool]:
        """The newest page of `slug` if it still shows the hub's seq, and whether the caller
        should now ask the store to confirm that seq. Past `max_age` the page is still served
        while one confirmation is under way (not one store read per request in that moment),
        but never past three times `max_age`."""
        page = self.newest.get(slug)
        if page is None or page.seq != hub_seq:
            return None, False
        age = now - page.checked_at
        if age <= self.max_age:
            return page, False
        if age > 3 * self.max_age:
            return None, False
        confirm = not page.confirming
        page.confirming = True
        return page, confirm
