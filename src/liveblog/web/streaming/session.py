"""One reader's stream: position, replay, live, end; the same for every writer.

`open` is where every stream starts and `closed` where every stream ends (the writer calls it
once the connection is over, whatever ended it). In between:

- position: the reader's Last-Event-ID (position.py). An unknown blog is answered with an
  error, an unusable position with a `resync` event, a caught-up reader of an ended blog with
  204 (EventSource stops reconnecting).
- replay: what the reader missed, one piece (about 64 KiB) at a time, each written only when
  the writer says little is unsent (`drained`), so a reader any distance behind costs one
  piece of buffer, and in turns with every other reader catching up (the hub's pacer), so a
  storm of them never holds up live delivery. Pieces come from pages shared by all readers
  catching up (broadcast/pages.py). Live frames arriving meanwhile wait behind the replay; only they
  count against the reader's buffer limit, so a phone a thousand entries behind catches up at
  its own pace instead of being cut off for being behind.
- live: the hub calls `deliver` with the frame every reader shares. A reader who still has more
  than the limit unsent when a frame comes, or whose connection has taken nothing for the stall
  time, is cut off and resumes from its last id; nobody else waits for it.
- end: the `blog-ended` frame is the last thing written; on shutdown a retry hint drawn between
  0.5 and 3 s spreads the node's readers' reconnects.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import TYPE_CHECKING

from liveblog import metrics
from liveblog.broadcast.channel import Channel
from liveblog.broadcast.memory import SHUTTING_DOWN, InProcessHub
from liveblog.broadcast.replay import Replay
from liveblog.domain.errors import LiveblogError
from liveblog.domain.models import Blog
from liveblog.render.sse import KEEPALIVE, RETRY_MS, resync_frame, retry_frame
from liveblog.web.statuses import status_of
from liveblog.web.streaming.position import Start, classify
from liveblog.web.streaming.writer import Writer

if TYPE_CHECKING:
    from prometheus_client import Counter

log = logging.getLogger(__name__)

# The next replay piece is written only when no more than this is unsent.
LOW_WATER = 16 * 1024
UNKNOWN_POSITION = "unknown position in this blog's log"

Lookup = Callable[[str], Blog]
"""slug -> the blog as the store has it now (raises NotFound); run in a worker thread."""


class StreamSession:
    """A reader's stream as the hub sees it (a Sink), independent of how its bytes travel."""

    __slots__ = (
        "channel",
        "done",
        "ended",
        "hub",
        "last_seq",
        "limit",
        "loading",
        "pending",
        "pending_bytes",
        "replay",
        "send",
        "tail",
        "unsent",
        "writer",
    )

    def __init__(self, hub: InProcessHub, writer: Writer) -> None:
        self.hub = hub
        self.writer = writer
        self.limit = hub.buffer_limit
        self.channel: Channel | None = None
        self.last_seq = 0  # frames up to here are written or part of the replay
        self.replay: Replay | None = None
        self.loading = False  # a replay page is being read
        # Live frames that arrived during the replay (None: live, written as they come).
        self.pending: list[tuple[int, bytes, bool]] | None = None
        self.pending_bytes = 0
        # The replay is written but its last pieces are still unsent: live frames wait in
        # `pending` until the writer says it drained, so a replay piece is never counted
        # against the live limit (it may be up to a page larger than LOW_WATER).
        self.tail = False
        self.done = False  # nothing more will be written
        self.ended = False  # `closed` ran
        self.send = writer.send
        self.unsent = writer.unsent

    # --- start ------------------------------------------------------------------------------

    def open(self, lookup: Lookup, slug: str, position: str | None) -> None:
        """Start the stream of blog `slug` after the raw `position` (position.position_of).
        The common case, a blog some reader already opened and a position the hub can judge,
        needs no database read and starts at once."""
        channel = self.hub.cached_channel(slug)
        if channel is not None:
            start, after = classify(position, channel.seq)
            if start is Start.OK:
                self._begin(channel, after)
                return
        self.hub.spawn(self._open_slowly(lookup, slug, position))

    async def _open_slowly(self, lookup: Lookup, slug: str, position: str | None) -> None:
        """The first reader of a blog in this process, or a position the hub cannot judge."""
        try:
            channel = await self.hub.open_channel(slug, lookup)
            start, after = classify(position, channel.seq)
            if start is Start.ASK_LOG:
                blog = await asyncio.to_thread(lookup, slug)
                self.hub.observe(blog)  # behind the store: catch up from the log meanwhile
                start = Start.RESYNC if after > blog.seq else Start.OK
        except LiveblogError as exc:
            if not self.done:
                self.done = True
                self.writer.error(status_of(exc), exc.message)
            return
        except asyncio.CancelledError:
            self._stop(None)  # the hub is stopping
            raise
        except Exception:
            log.exception("opening a stream of %r failed", slug)
            self._stop(None)
            return
        if self.done:
            return  # the reader left meanwhile
        if start is Start.RESYNC:
            self.done = True
            self.writer.start_stream(resync_frame(UNKNOWN_POSITION, channel.seq))
            self.writer.finish()
            return
        self._begin(channel, after)

    def _begin(self, channel: Channel, after: int) -> None:
        if self.done:
            return
        writer = self.writer
        if channel.ended and after >= channel.seq:
            self.done = True
            writer.no_content()
            return
        upto = channel.seq
        self.channel = channel
        # (after, upto] comes from the replay; live frames after that follow it. A reader
        # ahead of this hub (it heard a commit first elsewhere) gets nothing twice.
        self.last_seq = max(after, upto)
        self.hub.attach(channel, self)
        writer.start_stream(retry_frame())
        if after < upto:
            self.pending = []
            self.replay = self.hub.replay(channel, after, upto)
            self.hub.pacer.want(self)

    # --- replay -----------------------------------------------------------------------------

    def drained(self) -> None:
        """The writer's signal that little is unsent."""
        if self.replay is not None and not self.loading:
            self.hub.pacer.want(self)
        elif self.tail:
            self._go_live()

    def pump(self, pieces: int) -> int:
        """The pacer's turn: write up to `pieces` replay pieces while the connection keeps up,
        then hand over to live frames once the replay is done. Returns the bytes written."""
        replay = self.replay
        if replay is None or self.done or self.loading:
            return 0
        send, unsent = self.send, self.unsent
        written = 0
        while unsent() <= LOW_WATER:
            if not pieces:
                self.hub.pacer.want(self)  # room for more: another turn
                return written
            piece = replay.next_piece()
            if piece is None:
                if replay.done:
                    break
                self.loading = True
                self.hub.spawn(self._load(replay))
                return written
            send(piece)
            written += len(piece)
            pieces -= 1
            if replay.done:
                break
        if replay.done:
            self._go_live()
        return written  # else drained() brings the next turn

    async def _load(self, replay: Replay) -> None:
        try:
            await replay.load()
        except Exception:
            log.exception("replaying a stream of blog %s failed", replay.channel.blog_id)
            self._stop(None)
            return
        except asyncio.CancelledError:
            self._stop(None)
            raise
        finally:
            self.loading = False
        if not self.done:
            self.hub.pacer.want(self)

    def _go_live(self) -> None:
        self.replay = None
        if self.unsent() > LOW_WATER and not self.done:
            self.tail = True  # drained() comes back here
            if self.pending is None:
                self.pending = []
            return
        self.tail = False
        waiting, self.pending, self.pending_bytes = self.pending or [], None, 0
        for seq, frame, final in waiting:
            self.deliver(seq, frame, final)
        channel = self.channel
        ended = channel is not None and channel.ended and self.last_seq >= channel.seq
        if ended and not self.done:
            self._finish()  # the replay ended with the blog's end

    # --- the hub's side (Sink) --------------------------------------------------------------

    def deliver(self, seq: int, frame: bytes, final: bool) -> None:
        if seq <= self.last_seq or self.done:
            return
        pending = self.pending
        if pending is not None:
            pending.append((seq, frame, final))
            self.pending_bytes += len(frame)
            if self.pending_bytes > self.limit:
                self._stop(metrics.DROPPED_BUFFER)  # live frames outgrew a stalled replay
            return
        if self.unsent() > self.limit:
            # Still holding more than the limit from before: a reader who cannot keep up
            # resumes from its last id. (Checked before the write, so that one frame larger
            # than the limit still reaches a reader who keeps up, on either writer.)
            self._stop(metrics.DROPPED_BUFFER)
            return
        self.last_seq = seq
        self.send(frame)
        if final:
            self._finish()  # the blog ended: flush, then close

    def tick(self, now: float, keepalive: bool) -> None:
        if self.done:
            return
        stalled = self.writer.stalled_since()
        if stalled and now - stalled > self.hub.stall_seconds:
            self._stop(metrics.DROPPED_STALL)
        elif keepalive and self.replay is None:
            self.send(KEEPALIVE)

    def close(self, reason: str) -> None:
        if self.done:
            return
        if self.channel is None:
            self._stop(None)  # still opening: no response begun, so nothing to end politely
            return
        if reason == SHUTTING_DOWN:
            # Spread the reconnects of everyone on this node over a few seconds.
            self.send(retry_frame(random.randint(500, RETRY_MS)))
        self._finish()

    # --- end --------------------------------------------------------------------------------

    def _finish(self) -> None:
        self.done = True
        self.writer.finish()
        self._leave()

    def _stop(self, counter: Counter | None) -> None:
        """Cut the connection off now (`counter`: why, for the metrics; None: a failure)."""
        if self.done:
            return
        self.done = True
        if counter is not None:
            counter.inc()
        self.pending = None
        self.replay = None
        self.writer.cut_off()
        self._leave()

    def _leave(self) -> None:
        # Off the hub at once, though the connection may take a while to go: called from
        # `deliver`, so after the fan-out slice in progress.
        channel = self.channel
        loop = self.hub.loop
        if channel is not None and loop is not None:
            loop.call_soon(self.hub.detach, channel, self)

    def closed(self) -> None:
        """The connection is over (the writer calls this once, whatever ended it)."""
        if self.ended:
            return
        self.ended = True
        self.done = True
        self.replay = None
        self.pending = None
        channel, self.channel = self.channel, None
        if channel is not None:
            self.hub.detach(channel, self)
