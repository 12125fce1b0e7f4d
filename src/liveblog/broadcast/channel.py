"""A blog's channel in the hub, and the contract every reader connection (a sink) keeps."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

from liveblog.broadcast.pages import LogPages
from liveblog.domain.events import Event

RECENT_FRAMES = 1024


class Sink(Protocol):
    """A reader connection as the hub sees it. `deliver` runs in the fan-out loop, once per
    reader per event, so it must be cheap, must never block, and must not detach itself from
    the channel synchronously (a closed connection detaches on its own later)."""

    def deliver(self, seq: int, frame: bytes, final: bool) -> None: ...

    def tick(self, now: float, keepalive: bool) -> None:
        """Called every few seconds: send a keep-alive if asked; cut off a stalled reader."""
        ...

    def close(self, reason: str) -> None: ...


@dataclass(eq=False)
class Channel:
    blog_id: int
    slug: str
    seq: int
    """The last event fanned out; readers attached now get every event after it live."""
    pages: LogPages
    """The log as pages shared by readers catching up (broadcast/pages.py)."""
    ended: bool = False
    heard: int = 0
    """The newest seq anyone told the hub of (a commit here, a signal, a page's read), fanned
    out or not yet. A page rendered at `seq` is current only while `heard` is no newer."""
    subscribers: set[Sink] = field(default_factory=set)
    recent: deque[tuple[int, bytes]] = field(default_factory=lambda: deque(maxlen=RECENT_FRAMES))
    """Recently fanned-out frames for cheap replay; they cover the events (floor, seq], one
    per seq, in order."""
    floor: int = 0
    pending: dict[int, Event] = field(default_factory=dict)
    repairing: bool = False
    check_log: bool = False
    outbox: deque[tuple[int, bytes, bool, float]] = field(default_factory=deque)
    """Frames being written to readers, oldest first, a slice of readers at a time: (seq,
    frame, final, when the hub received the event, by time.perf_counter)."""
    pumping: bool = False
    batch: list[Sink] = field(default_factory=list)
    """The readers the oldest outbox frame goes to (those attached when its turn came)."""
    cursor: int = 0

    @property
    def newest(self) -> int:
        return max(self.seq, self.heard)
