"""The composition seam: a small protocol of ours in front of uvicorn's own, unchanged one.

The alternative to subclassing uvicorn's protocol (web/fastpath.py), behind the internal switch
LIVEBLOG_HTTP_PROTOCOL=composition, so the two can be benchmarked against each other. Every
request head is read here with httptools' public parser, under the edge's limits. While no
request of the connection has gone to ASGI, a fresh stream is handed to the lean writer and a
current page is answered from memory, exactly as the subclass does; at the first other request
uvicorn's `HttpToolsProtocol` is made for the connection and given the bytes from that
request's first byte on. From then on this protocol passes everything through to it, still
parsing each head (twice, then) so its deadline and size hold on every request.

Two differences from the subclass, both because only uvicorn's internals say when its
response is done: on a kept-alive connection that has had a request through ASGI, the page is
no longer answered from memory (nor a stream handed to the lean writer); and a head that
breaks a limit there is only closed, not answered with 408 or 431. Fresh connections, which is
what every stream and the fan-out benchmark use, behave exactly alike.

What it uses of uvicorn: the protocol's constructor and the asyncio callbacks, `shutdown()`,
the server state's connection set, counter and default headers, the keep-alive timeout.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, NoReturn, cast

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from liveblog.web.edge import Edge, HeadWatch, Refused, edge_of, refusal
from liveblog.web.fastpath import (
    HUB_KEY,
    PAGE_TARGET,
    STREAM_TARGET,
    lean_stream,
    page_answer,
    slug_of,
)

access_log = logging.getLogger("uvicorn.access")
_BODY = (b"content-length", b"transfer-encoding")


class FrontProtocol(asyncio.Protocol):
    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.config = config
        self.server_state = server_state
        self.app_state = app_state
        self.loop = _loop or asyncio.get_event_loop()
        self.edge: Edge = edge_of(app_state)
        self.watch = HeadWatch(self.edge, self.loop, self.refuse)
        self.parser: httptools.HttpRequestParser | None = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.peer = ""
        self.client = ""
        self.inner: HttpToolsProtocol | None = None
        self.to_inner = False
        self.pending = bytearray()  # from the first byte of the request not yet answered
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.head_size = 0
        self.answered = False
        self.keep_alive = False
        self.idle: asyncio.TimerHandle | None = None
        self.refused = False
        self.released = False
        self.stopped = False  # our parser must read nothing more of this connection

    # --- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        peername = transport.get_extra_info("peername")
        if isinstance(peername, tuple) and len(peername) >= 2:
            self.peer = self.watch.peer = str(peername[0])
            self.client = f"{peername[0]}:{peername[1]}"
        self.server_state.connections.add(self)  # type: ignore[arg-type]
        if not self.edge.connected(self.peer):  # (logged by the edge)
            self.refuse(503, "the server is at its connection limit; try again shortly")
            return
        self.watch.begin()

    def data_received(self, data: bytes) -> None:
        self._cancel_idle()
        inner = self.inner
        if self.parser is None:  # our parser gave up: uvicorn's has the connection alone
            if inner is not None:
                inner.data_received(data)
            return
        self.watch.received(len(data))
        if inner is None:
            self.pending += data
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            # (also how a callback's Refused comes out of the parser)
            if self.stopped or self.refused:
                return
            # Not ours to judge: uvicorn's protocol answers a request it cannot parse.
            self.parser = None
            self.to_inner = True
        if self.watch.too_long():
            self.watch.too_large()
            return
        if inner is not None:
            inner.data_received(data)
        elif self.to_inner:
            self._pass_to_uvicorn()

    def eof_received(self) -> bool | None:
        if self.inner is not None:
            self.inner.eof_received()
        return None  # the transport closes itself

    def pause_writing(self) -> None:
        if self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.inner is not None:
            self.inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self.watch.stop()
        self._cancel_idle()
        self.release()
        self.server_state.connections.discard(self)
        if self.inner is not None:
            self.inner.connection_lost(exc)

    def shutdown(self) -> None:
        """uvicorn's graceful shutdown, for a connection uvicorn's protocol does not hold."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.edge.disconnected(self.peer)

    # --- httptools callbacks ----------------------------------------------------------------

    def on_message_begin(self) -> None:
        self.url = b""
        self.headers = []
        self.head_size = 0
        self.answered = False
        self.watch.begin()

    def on_url(self, url: bytes) -> None:
        self.head_size += len(url)
        if not self.to_inner:
            self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.head_size += len(name) + len(value) + 4
        if not self.to_inner:
            self.headers.append((name.lower(), value.rstrip(b" \t")))

    def on_headers_complete(self) -> None:
        if not self.watch.done(self.head_size):
            self.watch.too_large()
            self._stop()
        if self.to_inner:
            return
        parser = self.parser
        assert parser is not None
        shortcut = (
            HUB_KEY in self.app_state
            and parser.get_method() == b"GET"
            and not parser.should_upgrade()
            and not any(name in _BODY for name, _ in self.headers)
        )
        if shortcut:
            match = STREAM_TARGET.fullmatch(self.url)
            if match is not None:
                self._stream(match)
            match = PAGE_TARGET.fullmatch(self.url)
            slug = slug_of(match.group(1)) if match is not None else None
            if slug is not None and self._answer_page(slug):
                return
        self.to_inner = True  # and from now on every request goes to uvicorn's protocol

    def on_message_complete(self) -> None:
        if not self.answered:
            return
        self.answered = False
        # The page request had no body: the next request starts right after its head.
        start = len(self.pending) - len(self.pending.lstrip(b"\r\n"))
        end = self.pending.find(b"\r\n\r\n", start)
        if end < 0 or not self.keep_alive:
            self._close()
            self._stop()
        del self.pending[: end + 4]
        if not self.pending:
            self.idle = self.loop.call_later(self.config.timeout_keep_alive, self._close)

    # --- the shortcuts ----------------------------------------------------------------------

    def _answer_page(self, slug: str) -> bool:
        parser = self.parser
        assert parser is not None and self.transport is not None
        version = parser.get_http_version()
        self.keep_alive = version != "1.0" and parser.should_keep_alive()
        defaults = self.server_state.default_headers
        now = self.loop.time()
        answer = page_answer(self.app_state, slug, self.headers, now, defaults, self.keep_alive)
        if answer is None:
            return False
        status, chunks = answer
        self.answered = True
        self.transport.writelines(chunks)
        self.server_state.total_requests += 1
        if access_log.hasHandlers() and access_log.isEnabledFor(logging.INFO):
            line = '%s - "GET %s HTTP/%s" %d'
            access_log.info(line, self.client, self.url.decode("latin-1"), version, status)
        return True

    def _stream(self, match: Any) -> None:
        self.server_state.connections.discard(self)
        if not lean_stream(self, match, self.headers, self.peer, self.release):
            self.refuse(429, "too many streams open from your address")
        self._stop()  # the connection is the writer's (or closed)

    def _pass_to_uvicorn(self) -> None:
        """uvicorn's protocol takes the connection from the current request's first byte."""
        assert self.transport is not None
        inner = HttpToolsProtocol(
            config=self.config,
            server_state=self.server_state,
            app_state=self.app_state,
            _loop=self.loop,
        )
        self.inner = inner
        self.server_state.connections.discard(self)
        inner.connection_made(self.transport)  # it joins the server's connections itself
        data, self.pending = bytes(self.pending), bytearray()
        inner.data_received(data)

    # --- answering here ---------------------------------------------------------------------

    def refuse(self, status: int, message: str) -> None:
        if self.refused:
            return
        self.refused = True
        self.watch.stop()
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if self.inner is None:
            transport.write(refusal(status, message, self.server_state.default_headers))
        # With uvicorn's protocol mid-response a status line here would corrupt it: just close.
        transport.close()

    def _stop(self) -> NoReturn:
        """Stop the parser in the middle of its callbacks."""
        self.stopped = True
        raise Refused

    def _close(self) -> None:
        self.idle = None
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def _cancel_idle(self) -> None:
        if self.idle is not None:
            self.idle.cancel()
            self.idle = None
