"""A reader served through the ASGI response path: frames wait in a bounded queue for the
writer task. The lean path (web/fastpath.py) writes to the socket directly instead; this one
serves streams that arrive on a reused keep-alive connection or under another ASGI server."""

from __future__ import annotations

import asyncio
from collections import deque

from liveblog import metrics
from liveblog.render.sse import KEEPALIVE


class QueuedReader:
    __slots__ = ("closed", "frames", "last_seq", "limit", "queued", "reason", "wake")

    def __init__(self, after: int, limit: int) -> None:
        self.last_seq = after
        self.limit = limit
        self.frames: deque[tuple[int, bytes, bool]] = deque()
        self.queued = 0
        self.wake = asyncio.Event()
        self.closed = False
        self.reason = ""

    def deliver(self, seq: int, frame: bytes, final: bool = False) -> None:
        if self.closed:
            return
        if self.queued + len(frame) > self.limit:
            # Never block the hub on one slow reader: drop it; it resumes from Last-Event-ID.
            metrics.DROPPED_BUFFER.inc()
            self.close("buffer full")
            return
        self.frames.append((seq, frame, final))
        self.queued += len(frame)
        self.wake.set()

    def tick(self, now: float, keepalive: bool) -> None:
        if keepalive and not self.frames:
            self.deliver(0, KEEPALIVE)

    def close(self, reason: str) -> None:
        if not self.closed:
            self.closed = True
            self.reason = reason
            self.frames.clear()  # nothing more will be written: free the memory now
            self.queued = 0
            self.wake.set()

    def take(self) -> tuple[bytes, bool]:
        """Everything queued as one write, skipping what replay already sent; and whether the
        stream must end after it (the blog ended)."""
        parts = []
        end = False
        while self.frames:
            seq, frame, final = self.frames.popleft()
            self.queued -= len(frame)
            if seq and seq <= self.last_seq:
                continue  # already delivered by replay
            if seq:
                self.last_seq = seq
            parts.append(frame)
            if final:
                end = True
                break
        self.wake.clear()
        return b"".join(parts), end
