"""Rendered pages kept in memory by (blog, seq, variant): a page is rendered once per change."""

from __future__ import annotations

from collections import OrderedDict
from threading import Lock


class PageCache:
    def __init__(self, capacity: int = 256) -> None:
        self.capacity = capacity
        self._items: OrderedDict[tuple[object, ...], bytes] = OrderedDict()
        self._lock = Lock()  # handlers run in a thread pool

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
