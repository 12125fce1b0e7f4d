"""uvicorn's httptools protocol under the edge's limits (web/edge.py), for the subclass seam.

Every connection `liveblog serve` accepts is parsed by this protocol (or its subclass in
web/fastpath.py), so the limits hold on the lean path and the ASGI path alike.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from liveblog.web.edge import Edge, HeadWatch, Refused, edge_of, refusal


class GuardedProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.edge: Edge = edge_of(self.app_state)
        self.watch = HeadWatch(self.edge, self.loop, self.refuse)
        self.peer = ""
        self.refused = False
        self.released = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.peer = self.watch.peer = self.client[0] if self.client else ""
        if not self.edge.connected(self.peer):  # (logged by the edge)
            self.refuse(503, "the server is at its connection limit; try again shortly")
            return
        self.watch.begin()

    def connection_lost(self, exc: Exception | None) -> None:
        self.watch.stop()
        self.release()
        super().connection_lost(exc)

    def release(self) -> None:
        """The connection is gone (from here, or from whoever it was handed to)."""
        if not self.released:
            self.released = True
            self.edge.disconnected(self.peer)

    def data_received(self, data: bytes) -> None:
        self.watch.received(len(data))
        super().data_received(data)
        if self.watch.too_long():
            self.watch.too_large()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.watch.begin()  # the next request on a kept-alive connection (once per head)

    def head_done(self) -> None:
        """Called first thing once a head is complete: stop its clock, check its size.
        Raises Refused (which stops the parser) if the edge answered it."""
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if not self.watch.done(size):
            self.watch.too_large()
        if self.refused:
            raise Refused

    def send_400_response(self, msg: str) -> None:
        # uvicorn calls this when the parser fails, which is also how a refusal stops it.
        if not self.refused:
            self.refuse(400, msg)

    def refuse(self, status: int, message: str) -> None:
        """Answer with a JSON error and close; the app never sees the request."""
        if self.refused:
            return
        self.refused = True
        self.watch.stop()
        if not self.transport.is_closing():
            self.transport.write(refusal(status, message, self.server_state.default_headers))
            self.transport.close()
