"""The lean writer: a reader's socket, taken over from uvicorn (web/fastpath.py).

The session's `send` is the transport's own `write`, so the hub's fan-out writes each shared,
pre-encoded frame straight to the socket: no task, queue or framework layer per reader per
event, which is what lets one process hold ten thousand readers. The response is
close-delimited, so the bytes on the wire are exactly the frames every reader shares.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import cast

from uvicorn.server import ServerState

from liveblog.broadcast.memory import SHUTTING_DOWN, InProcessHub
from liveblog.web.headers import ALLOW_ANY_ORIGIN, json_error
from liveblog.web.streaming.heads import NO_CONTENT_HEAD, STREAM_HEAD, error_body
from liveblog.web.streaming.session import StreamSession

# A small kernel send buffer: loopback and LAN buffers would otherwise hold hours of frames for
# a reader who stopped reading, hiding them from the cut-off.
SEND_BUFFER = 64 * 1024
# Above this much unsent data the transport reports "paused"; a reader paused for the hub's
# stall time is cut off. Below a quarter of it the transport says it drained.
WRITE_HIGH_WATER = 16 * 1024


def _nothing_unsent() -> int:
    return 0


def _discard(data: bytes) -> None:
    return None


class SocketWriter(asyncio.Protocol):
    """A connection's protocol once it carries a stream; the session does the rest."""

    __slots__ = ("paused_at", "send", "server_state", "session", "transport", "unsent")
    send: Callable[[bytes], None]
    unsent: Callable[[], int]

    def __init__(self, hub: InProcessHub, server_state: ServerState) -> None:
        self.server_state = server_state
        self.transport: asyncio.Transport | None = None
        self.paused_at = 0.0
        self.send = _discard
        self.unsent = _nothing_unsent
        self.session = StreamSession(hub, self)  # after send/unsent: it keeps them

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
        self.send = self.session.send = transport.write
        self.unsent = self.session.unsent = transport.get_write_buffer_size

    def data_received(self, data: bytes) -> None:
        pass  # a reader has nothing more to say on this connection

    def connection_lost(self, exc: Exception | None) -> None:
        # A fan-out slice in progress may still reach the session: it ignores it from now on.
        self.transport = None
        self.send = self.session.send = _discard
        self.unsent = self.session.unsent = _nothing_unsent
        self.server_state.connections.discard(self)
        self.session.closed()

    def pause_writing(self) -> None:
        self.paused_at = asyncio.get_running_loop().time()

    def resume_writing(self) -> None:
        self.paused_at = 0.0
        self.session.drained()

    def shutdown(self) -> None:
        """uvicorn's graceful shutdown."""
        self.session.close(SHUTTING_DOWN)

    # --- the session's side (Writer) --------------------------------------------------------

    def _head(self, data: bytes) -> None:
        if self.transport is not None:
            self.transport.write(data)

    def start_stream(self, first: bytes) -> None:
        self._head(STREAM_HEAD.encode(self.server_state.default_headers) + first)

    def finish(self) -> None:
        if self.transport is not None:
            self.transport.close()  # after what is buffered has been sent

    def cut_off(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def no_content(self) -> None:
        self._head(NO_CONTENT_HEAD.encode(self.server_state.default_headers))
        self.finish()

    def error(self, status: int, message: str) -> None:
        body = error_body(status, message)
        defaults = self.server_state.default_headers
        self._head(json_error(status, body, defaults, [ALLOW_ANY_ORIGIN]))
        self.finish()

    def stalled_since(self) -> float:
        return self.paused_at
