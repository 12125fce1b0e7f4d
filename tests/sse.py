"""A tiny SSE reader for tests: parses frames off a real streaming HTTP response."""

from __future__ import annotations

import json
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
