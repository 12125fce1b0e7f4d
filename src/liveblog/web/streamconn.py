"""One reader's socket on the lean stream path, written to by the hub's fan-out directly.

A reader who comes back after missing events first gets them replayed, as fast as its socket
drains: the replay (from the hub's memory, or from the log in pages) is written a chunk at a
time whenever the transport's buffer is low, and live events that arrive meanwhile wait behind
it. Only live frames count against the unsent-data limit, so a phone that reconnects 1,000
entries behind catches up instead of being cut off for being behind.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
from collections import deque
from typing import cast

from prometheus_client import Counter
from uvicorn.server import ServerState

from liveblog import metrics
from liveblog.broadcast.channel import Channel
from liveblog.broadcast.memory import FETCH_LIMIT, SHUTTING_DOWN, InProcessHub
from liveblog.domain.errors import LiveblogError
from liveblog.render.jsonview import dumps
from liveblog.render.sse import KEEPALIVE, RETRY_MS, event_frame, resync_frame, retry_frame
from liveblog.service import Liveblog
from liveblog.web.errors import status_of
from liveblog.web.position import Start, classify
from liveblog.web.security import SECURITY_HEADERS
from liveblog.web.stream import open_channel, start_after

log = logging.getLogger(__name__)

# A small kernel send buffer: loopback and LAN buffers would otherwise hold hours of frames for
# a reader who stopped reading, hiding them from the cut-off below.
SEND_BUFFER = 64 * 1024
# Above this much unsent data the transport reports "paused"; a reader paused for the hub's
# stall time is cut off.
WRITE_HIGH_WATER = 16 * 1024

_EXTRA = b"".join(name + b": " + value + b"\r\n" for name, value in SECURITY_HEADERS)
HEAD = (
    b"HTTP/1.1 200 OK\r\n"
    b"content-type: text/event-stream; charset=utf-8\r\n"
    b"cache-control: no-cache, no-transform\r\n"
    b"x-accel-buffering: no\r\n"
    b"connection: close\r\n" + _EXTRA + b"\r\n"
)
NO_CONTENT = b"HTTP/1.1 204 No Content\r\nconnection: close\r\n" + _EXTRA + b"\r\n"


def _error_response(status: int, message: str) -> bytes:
    body = dumps({"error": message, "status": status}).encode()
    reason = {404: b"Not Found"}.get(status, b"Error")
    return (
        b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
        b"connection: close\r\n%s\r\n%s" % (status, reason, len(body), _EXTRA, body)
    )


def _cut_off(transport: asyncio.Transport, dropped: Counter) -> None:
    # Frames of the same fan-out may reach a reader already cut off: count it once.
    if not transport.is_closing():
        dropped.inc()
        transport.abort()


# A replay is written in pieces of about this size, each when the transport's buffer is low.
REPLAY_CHUNK = 64 * 1024


class StreamConnection(asyncio.Protocol):
    __slots__ = (
        "backlog",
        "channel",
        "fetching",
        "hub",
        "last_seq",
        "pending",
        "pending_bytes",
        "replay_cursor",
        "replay_upto",
        "server_state",
        "stalled_since",
        "transport",
    )

    def __init__(self, hub: InProcessHub, server_state: ServerState) -> None:
        self.hub = hub
        self.server_state = server_state
        self.transport: asyncio.Transport | None = None
        self.channel: Channel | None = None
        self.last_seq = 0
        # Replay state: frames still to write, and (log replays) where the next page starts.
        self.backlog: deque[bytes] = deque()
        self.replay_cursor = 0
        self.replay_upto = 0  # 0: nothing more to read from the log
        self.fetching = False
        # Live frames that arrived during a replay (None: not replaying, write directly).
        self.pending: list[tuple[int, bytes, bool]] | None = None
        self.pending_bytes = 0
        self.stalled_since = 0.0

    # --- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport, but behave as one.
        transport = cast(asyncio.Transport, transport)
        self.transport = transport
        # uvicorn's shutdown calls `shutdown()` on every connection it tracks.
        self.server_state.connections.add(self)  # type: ignore[arg-type]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
        transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)

    def data_received(self, data: bytes) -> None:
        pass  # a reader has nothing more to say on this connection

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None  # a fan-out slice in progress may still reach us: ignore it
        self.backlog.clear()
        self.pending = None
        self.server_state.connections.discard(self)
        if self.channel is not None:
            self.hub.detach(self.channel, self)
            self.channel = None

    def pause_writing(self) -> None:
        assert self.hub.loop is not None
        self.stalled_since = self.hub.loop.time()

    def resume_writing(self) -> None:
        self.stalled_since = 0.0
        if self.pending is not None:
            self._drain()

    # --- the hub's side (Sink) --------------------------------------------------------------

    def deliver(self, seq: int, frame: bytes, final: bool) -> None:
        if seq <= self.last_seq:
            return  # the replay has (or will write) it
        transport = self.transport
        if transport is None:
            return
        if self.pending is not None:
            self.pending.append((seq, frame, final))
            self.pending_bytes += len(frame)
            if self.pending_bytes > self.hub.buffer_limit:
                # live events outgrew a replay that does not drain
                _cut_off(transport, metrics.DROPPED_BUFFER)
            return
        self.last_seq = seq
        transport.write(frame)
        if final:
            transport.close()  # the blog ended: flush, then close
        elif transport.get_write_buffer_size() > self.hub.buffer_limit:
            # a reader who cannot keep up resumes from its last id
            _cut_off(transport, metrics.DROPPED_BUFFER)

    def tick(self, now: float, keepalive: bool) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if self.stalled_since and now - self.stalled_since > self.hub.stall_seconds:
            _cut_off(transport, metrics.DROPPED_STALL)
        elif keepalive and self.pending is None:
            transport.write(KEEPALIVE)

    def close(self, reason: str) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if reason == SHUTTING_DOWN:
            # Spread the reconnects of everyone on this node over a few seconds.
            transport.write(retry_frame(random.randint(500, RETRY_MS)))
        transport.close()

    def shutdown(self) -> None:
        self.close(SHUTTING_DOWN)

    # --- opening the stream -----------------------------------------------------------------

    def start(self, svc: Liveblog, slug: str, raw: str | None) -> None:
        channel = self.hub.cached_channel(slug)
        if channel is not None:
            start, after = classify(raw, channel.seq)
            if start is Start.OK:
                self._open(channel, after)
                return
        self.hub.spawn(self._start_slowly(svc, slug, raw))

    async def _start_slowly(self, svc: Liveblog, slug: str, raw: str | None) -> None:
        """The first reader of a blog in this process, or a position the hub cannot judge."""
        transport = self.transport
        assert transport is not None
        try:
            channel = await open_channel(self.hub, svc, slug)
            after = await start_after(svc, channel, raw)
        except LiveblogError as exc:
            transport.write(_error_response(status_of(exc), exc.message))
            transport.close()
            return
        except Exception:
            log.exception("opening a stream for %r failed", slug)
            transport.abort()
            return
        if transport.is_closing():
            return
        if after is None:
            transport.write(HEAD + resync_frame("unknown position in this blog's log", channel.seq))
            transport.close()
            return
        self._open(channel, after)

    def _open(self, channel: Channel, after: int) -> None:
        transport = self.transport
        assert transport is not None
        if channel.ended and after >= channel.seq:
            transport.write(NO_CONTENT)  # tells EventSource to stop reconnecting
            transport.close()
            return
        self.channel = channel
        upto = channel.seq
        self.last_seq = upto  # (after, upto] comes from the replay; live frames follow it
        self.hub.attach(channel, self)
        transport.write(HEAD + retry_frame())
        if after >= upto:
            return
        self.pending = []
        cached = channel.recent_after(after)
        if cached is not None:
            self.backlog.extend(cached[0])
        else:
            self.replay_cursor, self.replay_upto = after, upto
        self._drain()

    # --- replay -----------------------------------------------------------------------------

    def _drain(self) -> None:
        """Write replay frames while the socket keeps up; then hand over to live delivery."""
        transport = self.transport
        if transport is None or self.pending is None:
            return
        backlog = self.backlog
        while backlog:
            if transport.get_write_buffer_size() > WRITE_HIGH_WATER:
                return  # resume_writing() brings us back
            chunk: list[bytes] = []
            size = 0
            while backlog and size < REPLAY_CHUNK:
                frame = backlog.popleft()
                chunk.append(frame)
                size += len(frame)
            transport.write(b"".join(chunk))
        if self.replay_upto:
            if not self.fetching:
                self.fetching = True
                self.hub.spawn(self._fetch_page())
            return
        waiting, self.pending, self.pending_bytes = self.pending, None, 0
        for seq, frame, final in waiting:
            self.deliver(seq, frame, final)
        channel = self.channel
        if channel is not None and channel.ended and self.last_seq >= channel.seq:
            transport.close()

    async def _fetch_page(self) -> None:
        """The next page of a replay that reaches further back than the hub's memory."""
        channel = self.channel
        assert channel is not None
        try:
            events = await asyncio.to_thread(
                self.hub.fetch, channel.blog_id, self.replay_cursor, FETCH_LIMIT
            )
        except Exception:
            log.exception("replaying blog %s after %s failed", channel.blog_id, self.replay_cursor)
            if self.transport is not None:
                self.transport.abort()
            return
        finally:
            self.fetching = False
        for event in events:
            if event.seq > self.replay_upto:
                break
            self.backlog.append(event_frame(event))
            self.replay_cursor = event.seq
        if len(events) < FETCH_LIMIT or self.replay_cursor >= self.replay_upto:
            self.replay_upto = 0
        self._drain()
