"""The lean stream path: a fresh connection that asks for a blog's stream leaves ASGI.

uvicorn's HTTP protocol parses the request as usual; when the head is a GET of
/api/blogs/{slug}/stream we hand the socket to a `SocketWriter` (web/streaming/), the same move
uvicorn makes for a WebSocket upgrade. From then on the hub writes each event's pre-encoded
frame straight to the transport: no task, queue, JSON or framework layer per reader per event,
which is what lets one process hold ten thousand readers. The response is close-delimited
(`Connection: close`), so the bytes on the wire are exactly the frames every reader shares.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any, cast

from uvicorn.protocols.utils import get_client_addr

from liveblog.broadcast.memory import InProcessHub
from liveblog.service import Liveblog
from liveblog.web.edge import GuardedProtocol, Refused, Released
from liveblog.web.http import etag_matches
from liveblog.web.pagecache import NewestPage, PageCache
from liveblog.web.streaming.position import position_of
from liveblog.web.streaming.socketwriter import SocketWriter

log = logging.getLogger(__name__)

STREAM_TARGET = re.compile(rb"/api/blogs/([a-z0-9][a-z0-9-]{0,79})/stream(?:\?([^#]*))?")
PAGE_TARGET = re.compile(rb"/blogs/([a-z0-9][a-z0-9-]{0,79})")
HUB_KEY = "liveblog.hub"
SERVICE_KEY = "liveblog.service"
PAGES_KEY = "liveblog.pages"


class LiveblogHttpProtocol(GuardedProtocol):
    """uvicorn's httptools protocol, under the edge's limits (web/edge.py), with two shortcuts
    past ASGI, each taken only when no other request on the connection is still being
    answered: a stream request hands the connection to the hub; a request for a blog's newest
    page, while the rendered copy in memory is current, is answered with those bytes."""

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
        self.head_done()
        idle = self.cycle is None or self.cycle.response_complete
        if idle and HUB_KEY in self.app_state and self.parser.get_method() == b"GET":
            match = STREAM_TARGET.fullmatch(self.url)
            if match is not None:
                self._stream(match)
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
        # `newest`, not `seq`: an event still waiting for its turn to fan out (a repair from the
        # log in flight) already makes the page in memory stale.
        hub_seq = channel.newest if channel else None
        page, confirm = pages.servable(slug, hub_seq, self.loop.time())
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
        # As uvicorn decides it, so the answer says `connection: close` exactly when its would.
        keep_alive = self.parser.get_http_version() != "1.0" and self.parser.should_keep_alive()
        defaults = self.server_state.default_headers
        if validator and etag_matches(validator.decode("latin-1"), page.etag):
            self.transport.write(page.not_modified.encode(defaults, close=not keep_alive))
            status = 304
        else:
            self.transport.writelines((page.head.encode(defaults, close=not keep_alive), page.body))
            status = 200
        if self.access_log and self.access_logger.isEnabledFor(logging.INFO):
            self.access_logger.info(
                '%s - "GET %s HTTP/%s" %d',
                get_client_addr(self.scope),
                self.url.decode("latin-1"),
                self.parser.get_http_version(),
                status,
            )
        if keep_alive:
            self.on_response_complete()  # arms the keep-alive timer, as after any response
        else:
            self.transport.close()
        return True

    def _stream(self, match: re.Match[bytes]) -> None:
        """The lean path, with the edge's per-address stream cap around it."""
        edge = self.edge
        address = edge.client_of(self.peer, self.headers) if edge.limits.streams_per_address else ""
        if not edge.opened(address):
            self.refuse(429, "too many streams open from your address")
            raise Refused  # stops the parser: nothing more of this connection is read
        self._hand_over(match)
        edge.lean_streams += 1
        stream = self.transport.get_protocol()
        if stream is self:  # nothing took the connection over
            edge.closed(address)
            return

        def release() -> None:
            edge.closed(address)
            self._release()

        self.transport.set_protocol(Released(cast(asyncio.Protocol, stream), release))

    def _hand_over(self, match: re.Match[bytes]) -> None:
        self.handed_over = True
        self.connections.discard(self)
        self._unset_keepalive_if_required()
        writer = SocketWriter(self.app_state[HUB_KEY], self.server_state)
        self.transport.set_protocol(writer)
        writer.connection_made(self.transport)
        svc: Liveblog = self.app_state[SERVICE_KEY]
        position = position_of(self.headers, match.group(2) or b"")
        writer.session.open(svc.blog, match.group(1).decode("ascii"), position)


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
