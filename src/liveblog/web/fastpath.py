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
from collections.abc import Callable
from typing import Any, cast
from urllib.parse import unquote_to_bytes

from uvicorn.protocols.utils import get_client_addr

from liveblog.broadcast.memory import InProcessHub
from liveblog.domain.rules import normal_slug, valid_slug
from liveblog.service import Liveblog
from liveblog.web.compression import choose
from liveblog.web.edge import Edge, Refused, Released, edge_of
from liveblog.web.guard import GuardedProtocol
from liveblog.web.http import etag_matches
from liveblog.web.pagecache import NewestPage, PageCache
from liveblog.web.streaming.position import position_of
from liveblog.web.streaming.socketwriter import SocketWriter

log = logging.getLogger(__name__)

# A slug in a request target: ASCII letters, digits and hyphens, or percent-encoded UTF-8 (at
# most 80 characters of up to 4 bytes each); `slug_of` decodes and checks it.
_SLUG = rb"((?:[a-z0-9-]|%[0-9A-Fa-f]{2}){1,960})"
STREAM_TARGET = re.compile(rb"/api/blogs/" + _SLUG + rb"/stream(?:\?([^#]*))?")
PAGE_TARGET = re.compile(rb"/blogs/" + _SLUG)
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
            slug = slug_of(match.group(1)) if match is not None else None
            if slug is not None and self._answer_page(slug):
                return
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not (self.handed_over or self.answered):
            super().on_body(body)

    def on_message_complete(self) -> None:
        if not (self.handed_over or self.answered):
            super().on_message_complete()

    def _answer_page(self, slug: str) -> bool:
        # As uvicorn decides it, so the answer says `connection: close` exactly when its would.
        keep_alive = self.parser.get_http_version() != "1.0" and self.parser.should_keep_alive()
        answer = page_answer(
            self.app_state,
            slug,
            self.headers,
            self.loop.time(),
            self.server_state.default_headers,
            keep_alive,
        )
        if answer is None:
            return False  # ASGI renders it (and refreshes the copy in memory)
        status, chunks = answer
        self.answered = True
        self.transport.writelines(chunks)
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
        self.handed_over = True
        self.connections.discard(self)
        self._unset_keepalive_if_required()
        if not lean_stream(self, match, self.headers, self.peer, self.release):
            self.refuse(429, "too many streams open from your address")
            raise Refused  # stops the parser: nothing more of this connection is read


def slug_of(raw: bytes) -> str | None:
    """The slug a request target names, as stored (decoded, NFC), or None when it names none
    (then ASGI answers, with its 404)."""
    try:
        slug = normal_slug(unquote_to_bytes(raw).decode("utf-8"))
    except UnicodeDecodeError:
        return None
    return slug if valid_slug(slug) else None


def page_answer(
    app_state: dict[str, Any],
    slug: str,
    headers: list[tuple[bytes, bytes]],
    now: float,
    defaults: list[tuple[bytes, bytes]],
    keep_alive: bool,
) -> tuple[int, tuple[bytes, ...]] | None:
    """The response to a request for `slug`'s newest page from memory, or None when that copy
    is not current (then ASGI renders it). Shared by both protocols (this one, web/front.py)."""
    hub: InProcessHub = app_state[HUB_KEY]
    channel = hub.cached_channel(slug)
    pages: PageCache = app_state[PAGES_KEY]
    # `newest`, not `seq`: an event still waiting for its turn to fan out (a repair from the
    # log in flight) already makes the page in memory stale.
    hub_seq = channel.newest if channel else None
    page, confirm = pages.servable(slug, hub_seq, now)
    if page is None:
        return None
    if confirm:
        hub.spawn(_confirm(hub, app_state[SERVICE_KEY], page, slug))
    pages.served_from_memory += 1
    validator = accept = b""
    for name, value in headers:
        if name == b"if-none-match":
            validator = value
        elif name == b"accept-encoding":
            accept = value
    if validator and etag_matches(validator.decode("latin-1"), page.etag):
        return 304, (page.not_modified.encode(defaults, close=not keep_alive),)
    head, body = page.answer(choose(accept.decode("latin-1")) if accept else None)
    return 200, (head.encode(defaults, close=not keep_alive), body)


def lean_stream(
    protocol: Any,
    match: re.Match[bytes],
    headers: list[tuple[bytes, bytes]],
    peer: str,
    release: Callable[[], None],
) -> bool:
    """Hand `protocol`'s connection to the lean stream writer, within the edge's stream cap
    (False, and nothing done, when the client is at it). `release` runs when the socket
    closes. `protocol` has `transport`, `app_state` and `server_state`, as both ours do."""
    edge: Edge = edge_of(protocol.app_state)
    address = edge.client_of(peer, headers) if edge.limits.streams_per_address else ""
    if not edge.opened(address):
        return False
    transport: asyncio.Transport = protocol.transport
    _hand_over(protocol, match, headers)
    edge.lean_streams += 1

    def closed() -> None:
        edge.closed(address)
        release()

    stream = cast(asyncio.Protocol, transport.get_protocol())
    transport.set_protocol(Released(stream, closed))
    return True


def _hand_over(protocol: Any, match: re.Match[bytes], headers: list[tuple[bytes, bytes]]) -> None:
    app_state = protocol.app_state
    writer = SocketWriter(app_state[HUB_KEY], protocol.server_state)
    protocol.transport.set_protocol(writer)
    writer.connection_made(protocol.transport)
    svc: Liveblog = app_state[SERVICE_KEY]
    position = position_of(headers, match.group(2) or b"")
    # Not a slug: the session's lookup answers 404, as the ASGI stream would.
    writer.session.open(svc.blog, slug_of(match.group(1)) or "", position)


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
