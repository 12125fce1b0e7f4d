"""The lean stream path: a fresh connection that asks for a blog's stream leaves ASGI.

uvicorn's HTTP protocol parses the request as usual; when the head is a GET of
/api/blogs/{slug}/stream we hand the socket to a `StreamConnection` (the same move uvicorn makes
for a WebSocket upgrade). From then on the hub writes each event's pre-encoded frame straight to
the transport: no task, queue, JSON or framework layer per reader per event, which is what lets
one process hold ten thousand readers. The response is close-delimited (`Connection: close`),
so the bytes on the wire are exactly the frames every reader shares.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import socket
from typing import Any, cast
from urllib.parse import parse_qs

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.utils import get_client_addr
from uvicorn.server import ServerState

from liveblog.broadcast.channel import Channel
from liveblog.broadcast.memory import SHUTTING_DOWN, InProcessHub
from liveblog.domain.errors import LiveblogError
from liveblog.render.jsonview import dumps
from liveblog.render.sse import KEEPALIVE, RETRY_MS, resync_frame, retry_frame
from liveblog.service import Liveblog
from liveblog.web.http import etag_matches
from liveblog.web.pagecache import NewestPage, PageCache
from liveblog.web.position import Start, classify
from liveblog.web.security import SECURITY_HEADERS
from liveblog.web.stream import open_channel, start_after

log = logging.getLogger(__name__)

STREAM_TARGET = re.compile(rb"/api/blogs/([a-z0-9][a-z0-9-]{0,79})/stream(?:\?([^#]*))?")
PAGE_TARGET = re.compile(rb"/blogs/([a-z0-9][a-z0-9-]{0,79})")
HUB_KEY = "liveblog.hub"
SERVICE_KEY = "liveblog.service"
PAGES_KEY = "liveblog.pages"

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


class LiveblogHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with two shortcuts past ASGI, each taken only when no other
    request on the connection is still being answered: a stream request hands the connection to
    the hub; a request for a blog's newest page, while the rendered copy in memory is current,
    is answered with those bytes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.handed_over = False
        self.answered = False  # this request was answered from memory

    def on_message_begin(self) -> None:
        self.answered = False
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        if self.handed_over:
            return
        idle = self.cycle is None or self.cycle.response_complete
        if idle and HUB_KEY in self.app_state and self.parser.get_method() == b"GET":
            match = STREAM_TARGET.fullmatch(self.url)
            if match is not None:
                self._hand_over(match)
                return
            match = PAGE_TARGET.fullmatch(self.url)
            if match is not None and self._answer_page(match.group(1).decode("ascii")):
                return
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not (self.handed_over or self.answered):
            super().on_body(body)

    def on_message_complete(self) -> None:
        if not (self.handed_over or self.answered):
            super().on_message_complete()

    def _answer_page(self, slug: str) -> bool:
        hub: InProcessHub = self.app_state[HUB_KEY]
        channel = hub.cached_channel(slug)
        pages: PageCache = self.app_state[PAGES_KEY]
        page, confirm = pages.servable(slug, channel.seq if channel else None, self.loop.time())
        if page is None:
            return False  # ASGI renders it (and refreshes the copy in memory)
        if confirm:
            hub.spawn(_confirm(hub, self.app_state[SERVICE_KEY], page, slug))
        self.answered = True
        pages.served_from_memory += 1
        validator = b""
        for name, value in self.headers:
            if name == b"if-none-match":
                validator = value
        if validator and etag_matches(validator.decode("latin-1"), page.etag):
            self.transport.write(page.not_modified)
            status = 304
        else:
            self.transport.writelines((page.head, page.body))
            status = 200
        if self.access_log and self.access_logger.isEnabledFor(logging.INFO):
            self.access_logger.info(
                '%s - "GET %s HTTP/%s" %d',
                get_client_addr(self.scope),
                self.url.decode("latin-1"),
                self.parser.get_http_version(),
                status,
            )
        if self.parser.should_keep_alive():
            self.on_response_complete()  # arms the keep-alive timer, as after any response
        else:
            self.transport.close()
        return True

    def _hand_over(self, match: re.Match[bytes]) -> None:
        self.handed_over = True
        self.connections.discard(self)
        self._unset_keepalive_if_required()
        raw = None
        for name, value in self.headers:
            if name == b"last-event-id":
                raw = value.decode("latin-1")
        if raw is None and match.group(2):
            values = parse_qs(match.group(2).decode("latin-1")).get("last_event_id")
            raw = values[-1] if values else None
        conn = StreamConnection(self.app_state[HUB_KEY], self.server_state)
        self.transport.set_protocol(conn)
        conn.connection_made(self.transport)
        conn.start(self.app_state[SERVICE_KEY], match.group(1).decode("ascii"), raw)


async def _confirm(hub: InProcessHub, svc: Liveblog, page: NewestPage, slug: str) -> None:
    """Ask the store whether the page in memory still shows the blog's latest seq. If another
    process wrote meanwhile, the hub catches up from the log, which moves its seq past the
    page's, so the next request renders afresh."""
    try:
        blog = await asyncio.to_thread(svc.blog, slug)
    except Exception:
        log.exception("confirming the page of %r failed", slug)
        return
    finally:
        page.confirming = False
    hub.observe(blog)
    if blog.seq == page.seq:
        assert hub.loop is not None
        page.checked_at = hub.loop.time()


class StreamConnection(asyncio.Protocol):
    """One reader's socket, written to by the hub's fan-out loop directly."""

    __slots__ = (
        "channel",
        "hub",
        "last_seq",
        "pending",
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
        # While a replay is read from the log, live frames wait here (None: write directly).
        self.pending: list[tuple[int, bytes, bool]] | None = None
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
        self.server_state.connections.discard(self)
        if self.channel is not None:
            self.hub.detach(self.channel, self)
            self.channel = None

    def pause_writing(self) -> None:
        assert self.hub.loop is not None
        self.stalled_since = self.hub.loop.time()

    def resume_writing(self) -> None:
        self.stalled_since = 0.0

    # --- the hub's side (Sink) --------------------------------------------------------------

    def deliver(self, seq: int, frame: bytes, final: bool) -> None:
        if seq <= self.last_seq:
            return  # replay already wrote it
        if self.pending is not None:
            self.pending.append((seq, frame, final))
            return
        transport = self.transport
        if transport is None:
            return
        self.last_seq = seq
        transport.write(frame)
        if final:
            transport.close()  # the blog ended: flush, then close
        elif transport.get_write_buffer_size() > self.hub.buffer_limit:
            transport.abort()  # a reader who cannot keep up resumes from its last id

    def tick(self, now: float, keepalive: bool) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if self.stalled_since and now - self.stalled_since > self.hub.stall_seconds:
            transport.abort()
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
            transport.write(_error_response(exc.status, exc.message))
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
        self.last_seq = after
        self.hub.attach(channel, self)
        cached = channel.recent_after(after)
        if cached is None:
            self.pending = []
            transport.write(HEAD + retry_frame())
            self.hub.spawn(self._replay_from_log(channel, after))
            return
        frames, replayed_to = cached
        self.last_seq = max(after, replayed_to)
        transport.write(HEAD + retry_frame() + b"".join(frames))
        self._close_if_ended(channel)

    async def _replay_from_log(self, channel: Channel, after: int) -> None:
        transport = self.transport
        assert transport is not None
        try:
            frames, replayed_to = await self.hub.replay(channel, after)
        except Exception:
            log.exception("replaying blog %s after %s failed", channel.blog_id, after)
            transport.abort()
            return
        if transport.is_closing():
            return
        waiting, self.pending = self.pending or [], None
        self.last_seq = max(self.last_seq, replayed_to)
        if frames:
            transport.write(b"".join(frames))
        for seq, frame, final in waiting:
            self.deliver(seq, frame, final)
        self._close_if_ended(channel)

    def _close_if_ended(self, channel: Channel) -> None:
        if channel.ended and self.last_seq >= channel.seq and self.transport is not None:
            self.transport.close()
