"""GET /api/blogs/{slug}/stream through ASGI: the portable path.

`liveblog serve` hands fresh stream connections to the lean path in web/fastpath.py before they
reach ASGI. This endpoint serves the rest (a stream requested while an earlier response on the
same connection is unfinished, or the app run under another ASGI server) with the same
semantics: frames encoded once by the hub wait in a bounded per-reader queue and are written as
one chunk per wake-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import random

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from liveblog.broadcast.channel import Channel
from liveblog.broadcast.memory import SHUTTING_DOWN, InProcessHub
from liveblog.broadcast.queued import QueuedReader
from liveblog.domain.errors import LiveblogError
from liveblog.render.sse import RETRY_MS, resync_frame, retry_frame
from liveblog.service import Liveblog
from liveblog.web.errors import status_of
from liveblog.web.position import Start, classify

HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache, no-transform"),
    (b"x-accel-buffering", b"no"),  # nginx: pass frames through as they come
]


class StreamEndpoint:
    """An ASGI app (not a request handler) so Starlette hands it the raw send/receive."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await stream(scope, receive, send)


async def open_channel(hub: InProcessHub, svc: Liveblog, slug: str) -> Channel:
    """The blog's channel, reading the blog from the store only if no reader opened it yet."""
    channel = hub.cached_channel(slug)
    if channel is None:
        channel = hub.channel(await run_in_threadpool(svc.blog, slug))
    return channel


async def start_after(svc: Liveblog, channel: Channel, raw: str | None) -> int | None:
    """The seq to replay after, or None when the reader must resync."""
    start, after = classify(raw, channel.seq)
    if start is Start.ASK_LOG:
        log_seq = (await run_in_threadpool(svc.blog, channel.slug)).seq
        start = Start.RESYNC if after > log_seq else Start.OK
    return after if start is Start.OK else None


async def stream(scope: Scope, receive: Receive, send: Send) -> None:
    request = Request(scope, receive)
    svc: Liveblog = request.app.state.service
    hub: InProcessHub = request.app.state.hub
    try:
        channel = await open_channel(hub, svc, request.path_params["slug"])
    except LiveblogError as exc:
        status = status_of(exc)
        response = JSONResponse({"error": exc.message, "status": status}, status)
        await response(scope, receive, send)
        return
    raw = request.headers.get("last-event-id") or request.query_params.get("last_event_id")
    after = await start_after(svc, channel, raw)
    if after is None:
        await _send_once(send, resync_frame("unknown position in this blog's log", channel.seq))
        return
    if channel.ended and after >= channel.seq:
        # 204 is how SSE tells a browser to stop reconnecting: nothing more will come.
        await Response(status_code=204)(scope, receive, send)
        return

    reader = QueuedReader(after, hub.buffer_limit)
    hub.attach(channel, reader)
    watcher = asyncio.ensure_future(_watch_disconnect(receive, reader))
    try:
        await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
        frames, replayed_to = await hub.replay(channel, after)
        reader.last_seq = max(reader.last_seq, replayed_to)
        end = channel.ended and reader.last_seq >= channel.seq
        body = retry_frame() + b"".join(frames)
        await send({"type": "http.response.body", "body": body, "more_body": not end})
        while not end:
            await reader.wake.wait()
            if reader.closed:
                if reader.reason == SHUTTING_DOWN:
                    # Spread the reconnects of everyone on this node over a few seconds.
                    retry = retry_frame(random.randint(500, RETRY_MS))
                    await send({"type": "http.response.body", "body": retry, "more_body": True})
                break
            chunk, end = reader.take()
            if chunk:
                await send({"type": "http.response.body", "body": chunk, "more_body": not end})
        if not end:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
    except OSError:
        pass  # the reader went away mid-write
    finally:
        hub.detach(channel, reader)
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


async def _watch_disconnect(receive: Receive, reader: QueuedReader) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            reader.close("reader disconnected")
            return


async def _send_once(send: Send, body: bytes) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": body, "more_body": False})
