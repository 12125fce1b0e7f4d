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

from liveblog.web.security import SECURITY_HEADERS

_EXTRA = b"".join(name + b": " + value + b"\r\n" for name, value in SECURITY_HEADERS)


@dataclass(slots=True)
class NewestPage:
    """A blog's newest page as ready-to-send bytes."""

    seq: int
    etag: str
    head: bytes
    body: bytes
    not_modified: bytes
    checked_at: float
    confirming: bool = False


def newest_page(seq: int, etag: str, body: bytes, checked_at: float) -> NewestPage:
    tag = etag.encode()
    common = b"etag: " + tag + b"\r\ncache-control: no-cache\r\n" + _EXTRA
    head = (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\n"
        b"content-length: %d\r\n" % len(body) + common + b"\r\n"
    )
    not_modified = b"HTTP/1.1 304 Not Modified\r\n" + common + b"\r\n"
    return NewestPage(seq, etag, head, body, not_modified, checked_at)


class PageCache:
    def __init__(self, capacity: int = 256, max_age: float = 1.0) -> None:
        self.capacity = capacity
        self.max_age = max_age
        self._items: OrderedDict[tuple[object, ...], bytes] = OrderedDict()
        self._lock = Lock()  # the ASGI views render in a thread pool
        self.newest: dict[str, NewestPage] = {}
        self.served_from_memory = 0  # answered by the server protocol without ASGI

    def get(self, key: tuple[object, ...]) -> bytes | None:
        with self._lock:
            body = self._items.get(key)
            if body is not None:
                self._items.move_to_end(key)
            return body

    def put(self, key: tuple[object, ...], body: bytes) -> None:
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
