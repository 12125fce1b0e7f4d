"""The in-process hub: one channel per blog, each event encoded once, bounded buffers per reader.

Events arrive from any thread after commit (`publish`) and are handled on the event loop. A
channel keeps the last `seq` it fanned out; an event that leaves a gap (a concurrent commit
whose notification came second, or one that was lost) starts a repair that reads the missing
events from the log. So readers get every event exactly once, in order, whatever the hub saw.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from liveblog.domain.events import Event, EventType
from liveblog.render.sse import KEEPALIVE, event_frame

log = logging.getLogger(__name__)

Fetch = Callable[[int, int, int], list[Event]]
"""(blog_id, after, limit) -> the committed events after `after`, oldest first."""

FETCH_LIMIT = 500
SHUTTING_DOWN = "server shutting down"


class Subscriber:
    """One reader's stream: a bounded queue of (seq, frame) and a flag for the writer task."""

    __slots__ = (
        "blog_id",
        "closed",
        "final",
        "frames",
        "last_seq",
        "limit",
        "queued",
        "reason",
        "wake",
    )

    def __init__(self, blog_id: int, after: int, limit: int) -> None:
        self.blog_id = blog_id
        self.last_seq = after
        self.limit = limit
        self.frames: deque[tuple[int, bytes, bool]] = deque()
        self.queued = 0
        self.wake = asyncio.Event()
        self.closed = False
        self.final = False
        self.reason = ""

    def offer(self, seq: int, frame: bytes, final: bool = False) -> None:
        if self.closed:
            return
        if self.queued + len(frame) > self.limit:
            # Never block the hub on one slow reader: drop it; it resumes from Last-Event-ID.
            self.close("buffer full")
            return
        self.frames.append((seq, frame, final))
        self.queued += len(frame)
        self.wake.set()

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


@dataclass(eq=False)
class Channel:
    blog_id: int
    seq: int
    subscribers: set[Subscriber] = field(default_factory=set)
    # Recently fanned-out frames, for cheap replay to reconnecting readers. They cover the
    # events (floor, seq]; older replays read the log.
    recent: deque[tuple[int, bytes]] = field(default_factory=lambda: deque(maxlen=1024))
    floor: int = 0
    pending: dict[int, Event] = field(default_factory=dict)
    repairing: bool = False
    check_log: bool = False


class InProcessHub:
    def __init__(
        self,
        fetch: Fetch,
        *,
        buffer_limit: int = 256 * 1024,
        keepalive_seconds: float = 15.0,
    ) -> None:
        self.fetch = fetch
        self.buffer_limit = buffer_limit
        self.keepalive_seconds = keepalive_seconds
        self.channels: dict[int, Channel] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._spawn(self._keepalive())

    def close_all(self, reason: str = SHUTTING_DOWN) -> None:
        """End every reader's stream (they reconnect elsewhere). Safe from any thread."""
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(self._close_all, reason)

    def _close_all(self, reason: str) -> None:
        for channel in self.channels.values():
            for sub in list(channel.subscribers):
                sub.close(reason)

    async def stop(self) -> None:
        self._close_all(SHUTTING_DOWN)
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- publishing (any thread) ------------------------------------------------------------

    def publish(self, blog_id: int, events: Sequence[Event]) -> None:
        loop = self.loop
        if loop is None or loop.is_closed():
            return  # nobody can be listening; the log has the events
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._deliver(blog_id, list(events))
        else:
            loop.call_soon_threadsafe(self._deliver, blog_id, list(events))

    def _deliver(self, blog_id: int, events: list[Event]) -> None:
        channel = self.channels.get(blog_id)
        if channel is None:
            return  # no reader has subscribed; a later subscriber starts from the log
        for event in events:
            if event.seq <= channel.seq:
                continue
            if event.seq == channel.seq + 1 and not channel.repairing:
                self._fan_out(channel, event)
            else:
                channel.pending[event.seq] = event
                self._repair(channel)

    def _fan_out(self, channel: Channel, event: Event) -> None:
        frame = event_frame(event)  # the one encoding every subscriber shares
        channel.seq = event.seq
        if event.type is EventType.ENTRY_RETRACTED:
            # Cached frames may hold the retracted text: forget them, replay from the
            # (already redacted) log instead.
            channel.recent.clear()
            channel.floor = event.seq - 1
        channel.recent.append((event.seq, frame))
        if len(channel.recent) == channel.recent.maxlen:
            channel.floor = channel.recent[0][0] - 1
        final = event.type is EventType.BLOG_ENDED
        for sub in channel.subscribers:
            sub.offer(event.seq, frame, final)

    def _repair(self, channel: Channel) -> None:
        if not channel.repairing:
            channel.repairing = True
            self._spawn(self._run_repair(channel))

    async def _run_repair(self, channel: Channel) -> None:
        delay = 0.01
        try:
            while True:
                while channel.seq + 1 in channel.pending:
                    self._fan_out(channel, channel.pending.pop(channel.seq + 1))
                for seq in [s for s in channel.pending if s <= channel.seq]:
                    del channel.pending[seq]
                if not channel.pending and not channel.check_log:
                    return
                channel.check_log = False
                events = await asyncio.to_thread(
                    self.fetch, channel.blog_id, channel.seq, FETCH_LIMIT
                )
                for event in events:
                    if event.seq == channel.seq + 1:
                        self._fan_out(channel, event)
                if len(events) == FETCH_LIMIT:
                    channel.check_log = True
                elif not events and channel.pending:
                    # Told of an event the log does not show yet: wait, never skip the gap.
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 1.0)
        except Exception:
            log.exception("repairing blog %s from the log failed", channel.blog_id)
        finally:
            channel.repairing = False

    # --- subscribing (on the loop) ----------------------------------------------------------

    def subscribe(self, blog_id: int, log_seq: int, after: int) -> tuple[Subscriber, Channel]:
        """Register a reader who has seen events up to `after`; `log_seq` is the blog's seq as
        just read from the store. Frames after the channel's seq queue up from now on."""
        channel = self.channels.get(blog_id)
        if channel is None:
            channel = Channel(blog_id=blog_id, seq=log_seq, floor=log_seq)
            self.channels[blog_id] = channel
            # An event committed between our read and now was dropped (no channel yet):
            # one look at the log closes that window.
            channel.check_log = True
            self._repair(channel)
        sub = Subscriber(blog_id, after, self.buffer_limit)
        channel.subscribers.add(sub)
        return sub, channel

    def unsubscribe(self, sub: Subscriber) -> None:
        channel = self.channels.get(sub.blog_id)
        if channel is not None:
            channel.subscribers.discard(sub)

    async def replay(self, channel: Channel, after: int) -> tuple[list[bytes], int]:
        """Frames for (after, channel.seq] as known when called, and the seq of the last one:
        from memory if recent enough, else from the log in pages. The caller writes them
        before draining the subscriber's queue (which skips anything replay covered)."""
        upto = channel.seq
        if after >= upto:
            return [], after
        if after >= channel.floor:
            picked = [(seq, frame) for seq, frame in channel.recent if after < seq <= upto]
            return [frame for _, frame in picked], (picked[-1][0] if picked else after)
        frames: list[bytes] = []
        cursor = after
        while cursor < upto:
            events = await asyncio.to_thread(self.fetch, channel.blog_id, cursor, FETCH_LIMIT)
            for event in events:
                if event.seq > upto:
                    break
                frames.append(event_frame(event))
                cursor = event.seq
            if len(events) < FETCH_LIMIT:
                break
        return frames, cursor

    def reader_count(self) -> int:
        return sum(len(c.subscribers) for c in self.channels.values())

    # --- keep-alives ------------------------------------------------------------------------

    async def _keepalive(self) -> None:
        # One timer for all readers: proxies and phones drop silent connections.
        while True:
            await asyncio.sleep(self.keepalive_seconds)
            for channel in self.channels.values():
                for sub in channel.subscribers:
                    if not sub.frames:
                        sub.offer(0, KEEPALIVE)
