"""A blog's event log read a page at a time, each page read and encoded once for everyone.

Readers who come back after missing events want the same stretch of the log: a deploy or a
restart sends thousands back at once, each a little behind. Pages are aligned on seq (page k
holds seqs k*PAGE_EVENTS+1 .. (k+1)*PAGE_EVENTS), so readers resuming anywhere in a page want the
same page: one read from the store and one encoding serve all of them, and the same chunks of
bytes go to every socket. A few pages stay in memory while readers use them.

A retraction redacts earlier events in the log in its own transaction, so a page read before it
may hold the retracted text: the hub calls `forget` when it fans the retraction out, and no page
read before that is handed to anyone who asks afterwards (invariant 5).

`read` is the one way the hub reads its log: replays (through pages) and the gap repair alike.
"""

from __future__ import annotations

import asyncio
import logging
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

from liveblog.domain.events import Event
from liveblog.render.sse import event_frame

log = logging.getLogger(__name__)

Fetch = Callable[[int, int, int], list[Event]]
"""(blog_id, after, limit) -> the committed events after `after`, oldest first."""
Spawn = Callable[[Coroutine[Any, Any, None]], None]

PAGE_EVENTS = 256
# The pieces a page is written in: about what a socket takes in one go, so a reader who drains
# slowly never makes the server hold more than one piece for it.
CHUNK_BYTES = 64 * 1024
CACHED_PAGES = 8
READ_ATTEMPTS = 3
T = TypeVar("T")


def page_of(seq: int) -> int:
    return (seq - 1) // PAGE_EVENTS


class Page:
    """Consecutive frames (first .. last) of one page, joined into chunks of about CHUNK_BYTES;
    a chunk handed out whole is the same bytes object for every reader."""

    __slots__ = ("chunks", "first", "last", "offsets", "starts")

    def __init__(self, first: int, frames: Sequence[bytes]) -> None:
        self.first = first
        self.last = first + len(frames) - 1
        self.chunks: list[bytes] = []
        self.starts: list[int] = []  # the index of each chunk's first frame, then len(frames)
        self.offsets: list[int] = []  # each frame's byte offset inside its chunk
        size = CHUNK_BYTES
        part: list[bytes] = []
        for index, frame in enumerate(frames):
            if size >= CHUNK_BYTES:
                if part:
                    self.chunks.append(b"".join(part))
                part, size = [], 0
                self.starts.append(index)
            self.offsets.append(size)
            part.append(frame)
            size += len(frame)
        if part:
            self.chunks.append(b"".join(part))
        self.starts.append(len(frames))

    @classmethod
    def of_events(cls, first: int, events: Sequence[Event]) -> Page:
        """The page of consecutive `events` from seq `first` on (the log has no gaps; a page
        stops short rather than misnumber a frame if it ever had one)."""
        frames: list[bytes] = []
        for event in events:
            if event.seq != first + len(frames):
                break
            frames.append(event_frame(event))
        return cls(first, frames)

    def holds(self, seq: int) -> bool:
        return self.first <= seq <= self.last

    def piece(self, seq: int, upto: int) -> tuple[bytes, int]:
        """Frames from `seq` on, no further than `upto` nor past the end of `seq`'s chunk, and
        the seq of the last one. `seq` must be held."""
        i = seq - self.first
        j = min(upto, self.last) - self.first + 1  # exclusive
        c = bisect_right(self.starts, i) - 1
        end = self.starts[c + 1]
        chunk = self.chunks[c]
        stop = min(end, j)
        if i == self.starts[c] and stop == end:
            return chunk, self.first + end - 1  # shared by every reader
        high = self.offsets[stop] if stop < end else len(chunk)
        return chunk[self.offsets[i] : high], self.first + stop - 1


class LogPages:
    """One blog's log, read through pages shared by everyone catching up."""

    def __init__(self, fetch: Fetch, blog_id: int, spawn: Spawn) -> None:
        self.fetch = fetch
        self.blog_id = blog_id
        self.spawn = spawn
        self.cache: OrderedDict[int, Page] = OrderedDict()
        self.loading: dict[int, asyncio.Future[Page]] = {}
        self.generation = 0  # moves on with every `forget`
        self.used = False
        self.reads = 0  # pages read from the log (what sharing saves shows here)

    async def read(self, after: int, limit: int) -> list[Event]:
        """Up to `limit` committed events after `after`, oldest first."""
        return await self._read(after, limit, list)

    async def _read(self, after: int, limit: int, shape: Callable[[list[Event]], T]) -> T:
        # A failed read (the database restarting) is retried with backoff until it succeeds:
        # readers wait and lose nothing. The hub cancels it when it stops.
        retry = 0.1
        while True:
            try:
                return await asyncio.to_thread(
                    lambda: shape(self.fetch(self.blog_id, after, limit))
                )
            except Exception:
                log.exception("reading blog %s's log failed; retrying", self.blog_id)
                await asyncio.sleep(retry)
                retry = min(retry * 2, 5.0)

    def cached(self, seq: int) -> Page | None:
        """The page in memory holding `seq`, if any."""
        index = page_of(seq)
        page = self.cache.get(index)
        if page is None or not page.holds(seq):
            return None
        self.cache.move_to_end(index)
        self.used = True
        return page

    def keep(self, page: Page) -> None:
        """Remember a page (read from the log or built from the hub's recent frames), unless
        the one in memory already reaches as far."""
        if page.last < page.first:
            return
        index = page_of(page.first)
        known = self.cache.get(index)
        if known is not None and known.first <= page.first and known.last >= page.last:
            return
        self.cache[index] = page
        self.cache.move_to_end(index)
        self.used = True
        while len(self.cache) > CACHED_PAGES:
            self.cache.popitem(last=False)

    async def load(self, seq: int) -> Page:
        """The page holding `seq` (committed and fanned out, so in the log), read once for
        everyone who wants it meanwhile."""
        for _ in range(READ_ATTEMPTS):
            page = self.cached(seq)
            if page is not None:
                return page
            index = page_of(seq)
            future = self.loading.get(index)
            if future is None:
                future = asyncio.get_running_loop().create_future()
                self.loading[index] = future
                self.spawn(self._fill(index, future))
            page = await asyncio.shield(future)
            if page.holds(seq):
                return page
            # That read began before `seq` was committed (a partly filled last page): again.
        raise RuntimeError(f"blog {self.blog_id}'s log has no event {seq}")

    async def _fill(self, index: int, future: asyncio.Future[Page]) -> None:
        generation = self.generation
        first = index * PAGE_EVENTS + 1
        try:
            page = await self._read(first - 1, PAGE_EVENTS, lambda es: Page.of_events(first, es))
        except BaseException as exc:
            if not future.done():
                if isinstance(exc, asyncio.CancelledError):
                    future.cancel()
                else:
                    future.set_exception(exc)
            raise
        finally:
            if self.loading.get(index) is future:
                del self.loading[index]
        self.reads += 1
        if generation == self.generation:
            self.keep(page)  # a page read before a retraction is never kept
        future.set_result(page)

    def forget(self) -> None:
        """A retraction was fanned out: drop every page read before it. Reads still in flight
        finish for those already waiting, and are neither kept nor shared again."""
        self.generation += 1
        self.cache.clear()
        self.loading.clear()

    def expire(self) -> None:
        """Called every few seconds: free the pages nobody used since the last call."""
        if not self.used:
            self.cache.clear()
        self.used = False
