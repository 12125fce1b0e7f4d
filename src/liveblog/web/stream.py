"""GET /api/blogs/{slug}/stream: the live event stream, as a plain ASGI endpoint.

No framework response object on this path: each reader is a subscriber whose queued frames
(encoded once by the hub, shared by all readers) are written as one chunk per wake-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import random

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from liveblog.broadcast.memory import SHUTTING_DOWN, InProcessHub, Subscriber
from liveblog.domain.errors import LiveblogError
from liveblog.domain.models import BlogStatus
from liveblog.render.sse import RETRY_MS, resync_frame, retry_frame
from liveblog.service import Liveblog

HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache, no-transform"),
    (b"x-accel-buffering", b"no"),  # nginx: pass frames through as they come
]


def _requested_position(request: Request) -> str | None:
    # The browser's own Last-Event-ID (sent on reconnect) wins over the page's starting point.
    return request.headers.get("last-event-id") or request.query_params.get("last_event_id")


class StreamEndpoint:
    """An ASGI app (not a request handler) so Starlette hands it the raw send/receive."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await stream(scope, receive, send)


async def stream(scope: Scope, receive: Receive, send: Send) -> None:
    request = Request(scope, receive)
    svc: Liveblog = request.app.state.service
    hub: InProcessHub = request.app.state.hub
    slug = request.path_params["slug"]
    try:
        blog = await run_in_threadpool(svc.blog, slug)
    except LiveblogError as exc:
        await JSONResponse({"error": exc.message, "status": exc.status}, exc.status)(
            scope, receive, send
        )
        return

    raw = _requested_position(request)
    if raw is None:
        after = blog.seq
    elif not raw.strip().isdigit() or int(raw) > blog.seq:
        await _send_once(send, resync_frame("unknown position in this blog's log", blog.seq))
        return
    else:
        after = int(raw)

    if blog.status is BlogStatus.ENDED and after >= blog.seq:
        # 204 is how SSE tells a browser to stop reconnecting: nothing more will come.
        await Response(status_code=204)(scope, receive, send)
        return

    sub, channel = hub.subscribe(blog.id, blog.seq, after)
    watcher = asyncio.ensure_future(_watch_disconnect(receive, sub))
    try:
        await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
        frames, replayed_to = await hub.replay(channel, after)
        sub.last_seq = max(sub.last_seq, replayed_to)
        end = blog.status is BlogStatus.ENDED and sub.last_seq >= blog.seq
        await send(
            {
                "type": "http.response.body",
                "body": retry_frame() + b"".join(frames),
                "more_body": not end,
            }
        )
        while not end:
            await sub.wake.wait()
            if sub.closed:
                if sub.reason == SHUTTING_DOWN:
                    # Spread the reconnects of everyone on this node over a few seconds.
                    retry = retry_frame(random.randint(500, RETRY_MS))
                    await send({"type": "http.response.body", "body": retry, "more_body": True})
                break
            chunk, end = sub.take()
            if chunk:
                await send({"type": "http.response.body", "body": chunk, "more_body": not end})
        if not end:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
    except OSError:
        pass  # the reader went away mid-write
    finally:
        hub.unsubscribe(sub)
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


async def _watch_disconnect(receive: Receive, sub: Subscriber) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            sub.close("reader disconnected")
            return


async def _send_once(send: Send, body: bytes) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": body, "more_body": False})
