"""What a returning reader missed, handed out a piece at a time as its connection drains.

One iterator for every writer: the pieces come from the blog's shared pages (broadcast/pages.py),
built from the channel's memory of recent frames when that reaches back far enough, else read
from the log. The caller asks for the next piece only when its connection has room, so a reader
any distance behind costs one piece of buffer, never the whole gap.
"""

from __future__ import annotations

from itertools import islice

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
    floor = channel.floor
    if not floor < seq <= channel.seq:
        return None
    index = page_of(seq)
    start = max(floor, index * PAGE_EVENTS)  # the recent frames cover (floor, channel.seq]
    stop = min(channel.seq, (index + 1) * PAGE_EVENTS)
    frames = [frame for _, frame in islice(channel.recent, start - floor, stop - floor)]
    page = Page(start + 1, frames)
    channel.pages.keep(page)
    return page
