"""The in-process hub: one channel per blog, each event encoded once and handed to every
reader connection (sink) of that blog.

Events arrive from any thread after commit (`publish`) and are handled on the event loop. A
channel keeps the last `seq` it fanned out; an event that leaves a gap (a concurrent commit
whose notification came second, or one that was lost) starts a repair that reads the missing
events from the log. So readers get every event exactly once, in order, whatever the hub saw.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from liveblog import metrics
from liveblog.broadcast.channel import Channel, Sink
from liveblog.broadcast.pages import Fetch, LogPages
from liveblog.broadcast.replay import Pacer, Replay
from liveblog.domain.events import Event, EventType
from liveblog.domain.models import Blog, BlogStatus
from liveblog.render.sse import event_frame

log = logging.getLogger(__name__)

__all__ = ["SHUTTING_DOWN", "Fetch", "InProcessHub"]

FETCH_LIMIT = 500  # events per log read of the gap repair
SHUTTING_DOWN = "server shutting down"
TICK_SECONDS = 5.0
# Readers written per turn of the event loop. Between slices the loop answers other requests,
# so an editor's 201 never waits for a fan-out to ten thousand readers to finish.
SLICE = 100


class InProcessHub:
    def __init__(
        self,
        fetch: Fetch,
        *,
        buffer_limit: int = 256 * 1024,
        keepalive_seconds: float = 15.0,
        stall_seconds: float = 30.0,
    ) -> None:
        self.fetch = fetch
        self.buffer_limit = buffer_limit
        self.keepalive_seconds = keepalive_seconds
        self.stall_seconds = stall_seconds
        self.channels: dict[int, Channel] = {}
        self.by_slug: dict[str, Channel] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self.pacer = Pacer()  # turns among readers catching up
        self._opening: dict[str, asyncio.Future[Blog]] = {}  # blogs being read for a channel
        self._tasks: set[asyncio.Task[None]] = set()

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        self.loop = self.pacer.loop = asyncio.get_running_loop()
        self._spawn(self._ticker())

    def close_all(self, reason: str = SHUTTING_DOWN) -> None:
        """End every reader's stream (they reconnect elsewhere). Safe from any thread."""
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(self._close_all, reason)

    def _close_all(self, reason: str) -> None:
        for channel in self.channels.values():
            for sink in list(channel.subscribers):
                sink.close(reason)

    async def stop(self) -> None:
        self._close_all(SHUTTING_DOWN)
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run a coroutine the hub owns (cancelled on stop)."""
        self._spawn(coro)

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
        received = time.perf_counter()  # fan-out latency counts the hop onto the loop
        if running is loop:
            self._deliver(blog_id, list(events), received)
        else:
            loop.call_soon_threadsafe(self._deliver, blog_id, list(events), received)

    def _deliver(self, blog_id: int, events: list[Event], received: float = 0.0) -> None:
        channel = self.channels.get(blog_id)
        if channel is None:
            return  # no reader has subscribed; a later subscriber starts from the log
        channel.heard = max([channel.heard, *(e.seq for e in events)])
        for event in events:
            if event.seq <= channel.seq:
                continue
            if event.seq == channel.seq + 1 and not channel.repairing:
                self._fan_out(channel, event, received)
            else:
                channel.pending[event.seq] = event
                self._repair(channel)

    def signal(self, blog_id: int, seq: int) -> None:
        """Another node committed up to `seq` in this blog: catch up from the log. Any thread."""
        loop = self.loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._signalled, blog_id, seq)

    def _signalled(self, blog_id: int, seq: int) -> None:
        channel = self.channels.get(blog_id)
        if channel is not None and seq > channel.seq:
            channel.heard = max(channel.heard, seq)
            channel.check_log = True
            self._repair(channel)

    def resync(self) -> None:
        """Look at the log for every open channel: after signals may have been missed (the
        listening connection dropped) and as a periodic safety net. Any thread."""
        loop = self.loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._resync)

    def _resync(self) -> None:
        for channel in self.channels.values():
            if channel.subscribers:
                channel.check_log = True
                self._repair(channel)

    def _fan_out(self, channel: Channel, event: Event, received: float = 0.0) -> None:
        """`received`: when the hub was handed the event (0: now, e.g. read from the log)."""
        frame = event_frame(event)  # the one encoding every reader shares
        seq = event.seq
        channel.seq = seq
        kind = event.type
        if kind is EventType.ENTRY_RETRACTED:
            # Cached frames and pages may hold the retracted text: forget them, replay from
            # the (already redacted) log instead.
            channel.recent.clear()
            channel.floor = seq - 1
            channel.pages.forget()
        elif kind is EventType.BLOG_ENDED or kind is EventType.BLOG_UPDATED:
            channel.ended = json.loads(event.data)["blog"]["status"] == BlogStatus.ENDED.value
        channel.recent.append((seq, frame))
        if len(channel.recent) == channel.recent.maxlen:
            channel.floor = channel.recent[0][0] - 1
        final = kind is EventType.BLOG_ENDED
        channel.outbox.append((seq, frame, final, received or time.perf_counter()))
        if not channel.pumping:
            channel.pumping = True
            channel.batch = list(channel.subscribers)
            channel.cursor = 0
            self._pump(channel)

    def _pump(self, channel: Channel) -> None:
        """Write the oldest outbox frame to the next slice of its readers; frames go out in
        order, each to every reader, however the slices interleave with other work."""
        seq, frame, final, _ = channel.outbox[0]
        start = channel.cursor
        end = start + SLICE
        for sink in channel.batch[start:end]:
            sink.deliver(seq, frame, final)
        assert self.loop is not None
        if end < len(channel.batch):
            channel.cursor = end
            self.loop.call_soon(self._pump, channel)
            return
        received = channel.outbox.popleft()[3]
        metrics.FANOUT_SECONDS.observe(time.perf_counter() - received)
        metrics.EVENTS_FANNED_OUT.inc()
        if channel.outbox:
            channel.batch = list(channel.subscribers)
            channel.cursor = 0
            self.loop.call_soon(self._pump, channel)
        else:
            channel.pumping = False
            channel.batch = []

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
                # A failed read is retried inside `read`: readers wait, lose nothing, rather
                # than leave parked events until some later signal.
                events = await channel.pages.read(channel.seq, FETCH_LIMIT)
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

    # --- readers (on the loop) --------------------------------------------------------------

    def cached_channel(self, slug: str) -> Channel | None:
        """The channel of a blog some reader already opened: no database read needed."""
        return self.by_slug.get(slug)

    async def open_channel(self, slug: str, lookup: Callable[[str], Blog]) -> Channel:
        """The channel of blog `slug`, reading the blog (`lookup`, in a worker thread) only if
        no reader opened it yet. Readers arriving together, as after a restart, share that
        one read; an unknown slug raises what `lookup` raised, to each of them."""
        channel = self.by_slug.get(slug)
        if channel is not None:
            return channel
        reading = self._opening.get(slug)
        if reading is None:
            reading = asyncio.ensure_future(asyncio.to_thread(lookup, slug))
            self._opening[slug] = reading
            reading.add_done_callback(lambda _: self._opening.pop(slug, None))
        blog = await asyncio.shield(reading)
        return self.channel(blog)

    def channel(self, blog: Blog) -> Channel:
        """The blog's channel, created from the blog as just read from the store."""
        channel = self.channels.get(blog.id)
        if channel is None:
            channel = Channel(
                blog_id=blog.id,
                slug=blog.slug,
                seq=blog.seq,
                pages=LogPages(self.fetch, blog.id, self._spawn),
                floor=blog.seq,
                ended=blog.status is BlogStatus.ENDED,
            )
            self.channels[blog.id] = channel
            self.by_slug[blog.slug] = channel
            # An event committed between that read and now was dropped (no channel yet):
            # one look at the log closes the window.
            channel.check_log = True
            self._repair(channel)
        return channel

    def observe(self, blog: Blog) -> Channel:
        """Note the blog's seq as the store just reported it. A hub behind it (a write made by
        another process, such as the CLI) catches up from the log and tells its readers."""
        channel = self.channel(blog)
        channel.heard = max(channel.heard, blog.seq)
        if blog.seq > channel.seq and not channel.repairing:
            channel.check_log = True
            self._repair(channel)
        return channel

    def attach(self, channel: Channel, sink: Sink) -> None:
        # The membership checks keep the readers gauge exact if a sink is attached or
        # detached twice (once per connect/disconnect, never per event).
        if sink not in channel.subscribers:
            channel.subscribers.add(sink)
            metrics.STREAM_READERS.inc()

    def detach(self, channel: Channel, sink: Sink) -> None:
        if sink in channel.subscribers:
            channel.subscribers.discard(sink)
            metrics.STREAM_READERS.dec()

    def replay(self, channel: Channel, after: int, upto: int) -> Replay:
        """The frames of (after, upto] a reader missed, a piece at a time (broadcast/replay.py)."""
        return Replay(channel, after, upto)

    def reader_count(self) -> int:
        return sum(len(c.subscribers) for c in self.channels.values())

    # --- keep-alives and stalled readers ----------------------------------------------------

    async def _ticker(self) -> None:
        # One timer for all readers: keep-alives (proxies and phones drop silent connections)
        # and cutting off readers whose socket has not drained for `stall_seconds`.
        assert self.loop is not None
        last_keepalive = self.loop.time()
        while True:
            await asyncio.sleep(min(TICK_SECONDS, self.keepalive_seconds))
            now = self.loop.time()
            keepalive = now - last_keepalive >= self.keepalive_seconds - 0.01
            if keepalive:
                last_keepalive = now
            for channel in self.channels.values():
                channel.pages.expire()
                for sink in list(channel.subscribers):
                    sink.tick(now, keepalive)
