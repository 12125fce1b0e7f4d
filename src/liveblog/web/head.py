"""HEAD wherever GET works: the request is answered as a GET and its body left out, so the
status and headers (ETag, Cache-Control, Content-Length) are exactly the GET's. A stream's HEAD
gets its head and ends: the app is told the client went away as soon as the head is sent."""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_GONE: Message = {"type": "http.disconnect"}


class HeadAsGet:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        answered = asyncio.Event()

        async def head_only(message: Message) -> None:
            if answered.is_set():
                return
            if message["type"] == "http.response.start":
                await send(message)
            elif message["type"] == "http.response.body":
                # One empty, final body: the server writes no bytes for a HEAD.
                answered.set()
                await send({"type": "http.response.body", "body": b"", "more_body": False})

        async def until_answered() -> Message:
            if answered.is_set():
                return _GONE
            incoming = asyncio.ensure_future(receive())
            finished = asyncio.ensure_future(answered.wait())
            ready, _ = await asyncio.wait({incoming, finished}, return_when=asyncio.FIRST_COMPLETED)
            if incoming in ready:
                finished.cancel()
                return incoming.result()
            incoming.cancel()
            return _GONE

        await self.app({**scope, "method": "GET"}, until_answered, head_only)
