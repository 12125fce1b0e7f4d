"""The portable writer: a reader's stream as an ASGI response.

`liveblog serve` hands fresh stream connections to the socket writer before they reach ASGI.
This one serves the rest (a stream requested while an earlier response on the same connection
is unfinished, or the app run under another ASGI server). What the session writes waits in a
short queue that `run` hands to the server; the server's `send` waits for the socket to drain
before it takes more, and only then does the writer tell the session it drained. So the
session's pacing holds here too: a replay is fetched and written a piece at a time, never as
one body the size of the gap.

ASGI gives no handle on the socket, so a reader cut off here is ended, not reset: its response
is closed after what the server still holds for it (one piece at most) has gone out, or when
the reader goes away. It is off the hub at once either way.
"""

from __future__ import annotations

import asyncio
import contextlib

from starlette.types import Message, Receive, Scope, Send

from liveblog.broadcast.memory import InProcessHub
from liveblog.service import Liveblog
from liveblog.web.streaming.heads import NO_CONTENT, STREAM, error_body, error_headers
from liveblog.web.streaming.position import position_of
from liveblog.web.streaming.session import StreamSession


class StreamEndpoint:
    """GET /api/blogs/{slug}/stream as an ASGI app (not a request handler), so Starlette
    hands it the raw send and receive."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope["app"].state
        hub: InProcessHub = state.hub
        svc: Liveblog = state.service
        writer = AsgiWriter(hub, send)
        position = position_of(scope["headers"], scope.get("query_string", b""))
        writer.session.open(svc.blog, scope["path_params"]["slug"], position)
        watcher = asyncio.ensure_future(_watch_disconnect(receive, writer))
        try:
            await writer.run()
        except OSError:
            pass  # the reader went away mid-write
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            writer.session.closed()


async def _watch_disconnect(receive: Receive, writer: AsgiWriter) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            writer.gone()
            return


class AsgiWriter:
    __slots__ = (
        "_send",
        "ending",
        "head",
        "loop",
        "queue",
        "queued",
        "sending",
        "session",
        "since",
        "wake",
    )

    def __init__(self, hub: InProcessHub, send: Send) -> None:
        self._send = send
        self.loop = asyncio.get_running_loop()
        self.head: Message | None = None
        self.queue: list[bytes] = []
        self.queued = 0
        self.sending = 0  # the size of the body part the server has not taken yet
        self.since = 0.0  # when that part was handed over
        self.ending = False
        self.wake = asyncio.Event()
        self.session = StreamSession(hub, self)

    # --- the session's side (Writer) --------------------------------------------------------

    def send(self, data: bytes) -> None:
        self.queue.append(data)
        self.queued += len(data)
        self.wake.set()

    def unsent(self) -> int:
        return self.queued + self.sending

    def start_stream(self, first: bytes) -> None:
        self.head = {"type": "http.response.start", "status": 200, "headers": STREAM}
        self.send(first)

    def finish(self) -> None:
        self.ending = True
        self.wake.set()

    def cut_off(self) -> None:
        self.queue.clear()
        self.queued = 0
        self.finish()

    def no_content(self) -> None:
        self.head = {"type": "http.response.start", "status": 204, "headers": NO_CONTENT}
        self.finish()

    def error(self, status: int, message: str) -> None:
        body = error_body(status, message)
        headers = error_headers(body)
        self.head = {"type": "http.response.start", "status": status, "headers": headers}
        self.send(body)
        self.finish()

    def stalled_since(self) -> float:
        return self.since

    def gone(self) -> None:
        """The reader disconnected."""
        self.session.closed()
        self.cut_off()

    # --- the server's side ------------------------------------------------------------------

    async def run(self) -> None:
        """Hand what the session writes to the server until the response ends."""
        send = self._send
        while True:
            await self.wake.wait()
            self.wake.clear()
            if self.head is not None:
                head, self.head = self.head, None
                await send(head)
            while self.queue:
                queue, self.queue = self.queue, []
                body = queue[0] if len(queue) == 1 else b"".join(queue)
                self.queued = 0
                self.sending, self.since = len(body), self.loop.time()
                # Returns once the server has written it, having first waited for the socket
                # to drain what it held before.
                await send({"type": "http.response.body", "body": body, "more_body": True})
                self.sending, self.since = 0, 0.0
                if not self.queue:
                    self.session.drained()
            if self.ending:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
