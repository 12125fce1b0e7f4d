"""Request body limits as ASGI middleware, so no handler ever sees an oversized body.

Every route but the upload reads its whole (small) body up front. The picture upload has a
larger limit of its own and is streamed: its bytes are counted as they arrive and go on to the
multipart parser, which spools them to disk, so an upload is never held whole in memory.
"""

from __future__ import annotations

import json
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from liveblog.domain.errors import TooLarge


class BodyLimit:
    def __init__(
        self, app: ASGIApp, max_bytes: int, streamed: tuple[re.Pattern[str], int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.streamed = streamed
        """(path pattern, limit) of the POST route whose body is counted, not buffered."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        if (
            self.streamed
            and scope["method"] == "POST"
            and self.streamed[0].fullmatch(scope["path"])
        ):
            await self._streamed(scope, receive, send, self.streamed[1])
            return
        if not await self._declared_fits(scope, send, self.max_bytes):
            return
        # Read the whole (bounded) body up front: a chunked upload cannot sneak past the limit,
        # and the handler gets it back unchanged.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _refuse(send, 413, _over(self.max_bytes))
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _declared_fits(self, scope: Scope, send: Send, limit: int) -> bool:
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is None:
            return True
        try:
            too_big = int(declared) > limit
        except ValueError:
            await _refuse(send, 400, "Content-Length is not a number")
            return False
        if too_big:
            await _refuse(send, 413, _over(limit))
            return False
        return True

    async def _streamed(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        if not await self._declared_fits(scope, send, limit):
            return
        size = 0

        async def counted() -> Message:
            nonlocal size
            message = await receive()
            size += len(message.get("body", b""))
            if size > limit:
                # Raised inside the handler's form parsing: answered 413 like any domain error.
                raise TooLarge(_over(limit), field="file")
            return message

        await self.app(scope, counted, send)


def _over(limit: int) -> str:
    return f"request body is over the {limit} byte limit"


async def _refuse(send: Send, status: int, message: str) -> None:
    payload = json.dumps({"error": message, "status": status}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
