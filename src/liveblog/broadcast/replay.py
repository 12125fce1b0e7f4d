"""What a returning reader missed, handed out a piece at a time as its connection drains.

One iterator for every writer: the pieces come from the blog's shared pages (broadcast/pages.py),
built from the channel's memory of recent frames when that reaches back far enough, else read
from the log. The caller asks for the next piece only when its connection has room, so a reader
any distance behind costs one piece of buffer, never the whole gap; and readers take turns
(`Pacer`), so a storm of them never holds up the live fan-out.
"""

from __future__ import annotations

import asyncio
from collections import deque
from itertools import islice
from typing import Protocol

from liveblog.broadcast.channel import Channel
from liveblog.broadcast.pages import PAGE_EVENTS, Page, page_of


class Replay:
    """The frames of (after, upto] of one channel, oldest first."""

    __slots__ = ("channel", "page", "pos", "upto")

    def __init__(self, channel: Channel, after: int, upto: int) -> None:
        self.channel = channel
        self.pos = after  # the last seq handed out
        self.upto = upto
        self.page: Page | None = None

    @property
    def done(self) -> bool:
        return self.pos >= self.upto

    def next_piece(self) -> bytes | None:
        """The next piece (at most about 64 KiB), or None: either the replay is done, or the
        page it needs is not in memory and `load` must run first."""
        if self.pos >= self.upto:
            return None
        seq = self.pos + 1
        page = self.page
        if page is None or not page.holds(seq):
            page = self.page = self.channel.pages.cached(seq) or recent_page(self.channel, seq)
            if page is None:
                return None
        piece, self.pos = page.piece(seq, self.upto)
        return piece

    async def load(self) -> None:
        """Read the page the next piece comes from (shared with everyone who needs it)."""
        self.page = await self.channel.pages.load(self.pos + 1)


def recent_page(channel: Channel, seq: int) -> Page | None:
    """The page holding `seq` as far as the channel's recent frames have it, kept for the next
    reader; None when they do not reach back to `seq`."""
    recent = channel.recent
    if not recent or not channel.floor < seq <= channel.seq:
        return None
    oldest = recent[0][0]  # the recent frames are one per seq, oldest first
    index = page_of(seq)
    start = max(oldest, index * PAGE_EVENTS + 1)
    stop = min(recent[-1][0], (index + 1) * PAGE_EVENTS)
    picked = list(islice(recent, start - oldest, stop - oldest + 1))
    if not picked or picked[0][0] != start or picked[-1][0] != stop:
        return None  # not as consecutive as they should be: the log knows better
    page = Page(start, [frame for _, frame in picked])
    channel.pages.keep(page)
    return page


class Pumped(Protocol):
    """A reader with replay pieces to write, as the pacer sees it."""

    def pump(self, pieces: int) -> int:
        """Write up to `pieces` pieces while the connection has room; return the bytes written.
        Asks the pacer for another turn itself if it has more and still has room."""
        ...


class Pacer:
    """Takes turns among readers catching up, a bounded amount of writing per turn of the
    event loop. On loopback or a fast network a reader's socket takes a whole replay at once;
    a thousand readers coming back together would then hold the loop for seconds, and the
    readers who stayed would wait that long for the next live event. In turns, fan-out slices
    and new connections run between every megabyte of replay."""

    TURN_BYTES = 1024 * 1024
    PIECES = 2  # per reader per turn: round-robin, so nobody waits behind one reader's gap

    def __init__(self) -> None:
        self.ready: deque[Pumped] = deque()
        self.waiting: set[Pumped] = set()
        self.scheduled = False
        self.loop: asyncio.AbstractEventLoop | None = None

    def want(self, reader: Pumped) -> None:
        """`reader` has a piece to write and room for it: give it a turn soon."""
        if reader in self.waiting:
            return
        self.waiting.add(reader)
        self.ready.append(reader)
        if not self.scheduled:
            self.scheduled = True
            loop = self.loop or asyncio.get_running_loop()
            loop.call_soon(self._turn)

    def _turn(self) -> None:
        self.scheduled = False
        budget = self.TURN_BYTES
        ready, waiting = self.ready, self.waiting
        while ready and budget > 0:
            reader = ready.popleft()
            waiting.discard(reader)
            budget -= reader.pump(self.PIECES)
        if ready and not self.scheduled:
            self.scheduled = True
            loop = self.loop or asyncio.get_running_loop()
            loop.call_soon(self._turn)
