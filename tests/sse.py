"""A tiny SSE reader for tests: parses frames off a real streaming HTTP response, or off the raw
bytes of responses read from a plain socket (for requests no HTTP client would send)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass
class Frame:
    id: int | None
    event: str | None
    data: str
    comment: bool = False

    @property
    def json(self) -> Any:
        return json.loads(self.data)


def frames(response: httpx.Response) -> Iterator[Frame]:
    """Frames as they arrive, comments (keep-alives) included; repeated calls on the same
    response continue where the last one stopped."""
    existing = getattr(response, "_sse_frames", None)
    if existing is None:
        existing = _parse(response)
        response._sse_frames = existing  # type: ignore[attr-defined]
    return existing


def _parse(response: httpx.Response) -> Iterator[Frame]:
    fields: dict[str, list[str]] = {}
    comment = False
    for line in response.iter_lines():
        if line == "":
            if fields or comment:
                ident = fields.get("id", [None])[-1]
                yield Frame(
                    id=int(ident) if ident is not None else None,
                    event=fields.get("event", [None])[-1],
                    data="\n".join(fields.get("data", [])),
                    comment=comment and not fields,
                )
            fields, comment = {}, False
            continue
        if line.startswith(":"):
            comment = True
            continue
        name, _, value = line.partition(":")
        fields.setdefault(name, []).append(value[1:] if value.startswith(" ") else value)


def take(response: httpx.Response, count: int) -> list[Frame]:
    """The next `count` event frames (retry-only frames and keep-alives skipped)."""
    got: list[Frame] = []
    for frame in frames(response):
        if frame.comment or (frame.event is None and frame.id is None and not frame.data):
            continue
        got.append(frame)
        if len(got) == count:
            break
    return got


@dataclass
class RawResponse:
    """One HTTP/1.1 response as it came off the wire (chunked bodies decoded)."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k == name]
        return values[-1] if values else None


def exchange(url: str, data: bytes, timeout: float = 10) -> list[RawResponse]:
    """Send `data` (one or more requests) on a fresh connection, read until the server closes
    it, and parse every response it sent."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(data)
        received = bytearray()
        while chunk := sock.recv(65536):
            received += chunk
    return parse_responses(bytes(received))


def parse_responses(data: bytes) -> list[RawResponse]:
    responses = []
    while data:
        head, _, data = data.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ")[1])
        headers = [(k.strip().lower(), v.strip()) for k, _, v in (x.partition(":") for x in lines)]
        fields = dict(headers)
        if fields.get("transfer-encoding") == "chunked":
            body = bytearray()
            while True:
                size_line, _, data = data.partition(b"\r\n")
                size = int(size_line, 16)
                body += data[:size]
                data = data[size + 2 :]
                if size == 0:
                    break
            responses.append(RawResponse(status, headers, bytes(body)))
        elif "content-length" in fields:
            length = int(fields["content-length"])
            responses.append(RawResponse(status, headers, data[:length]))
            data = data[length:]
        elif status in (204, 304):
            responses.append(RawResponse(status, headers, b""))
        else:  # close-delimited
            responses.append(RawResponse(status, headers, data))
            data = b""
    return responses


def events_in(body: bytes) -> list[tuple[int | None, str | None]]:
    """(id, event) of every event frame in a stream body (retry-only frames skipped)."""
    found = []
    for block in body.decode().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.split("\n") if ": " in line)
        if "event" in fields or "id" in fields:
            ident = fields.get("id")
            found.append((int(ident) if ident else None, fields.get("event")))
    return found
