"""Server-Sent Events frames as values: encoded once, the same bytes written to every reader."""

from __future__ import annotations

from dataclasses import dataclass

from liveblog.domain.events import Event

RETRY_MS = 3000
KEEPALIVE = b": keep-alive\n\n"


@dataclass(frozen=True, slots=True)
class SseFrame:
    data: str
    event: str | None = None
    id: int | None = None
    retry: int | None = None

    def encode(self) -> bytes:
        lines: list[str] = []
        if self.retry is not None:
            lines.append(f"retry: {self.retry}")
        if self.id is not None:
            lines.append(f"id: {self.id}")
        if self.event is not None:
            lines.append(f"event: {self.event}")
        # A newline inside data would end the field early; SSE carries it as extra data lines.
        lines.extend(f"data: {part}" for part in self.data.split("\n"))
        return ("\n".join(lines) + "\n\n").encode("utf-8")


def event_frame(event: Event) -> bytes:
    return SseFrame(data=event.data, event=event.type.value, id=event.seq).encode()


def retry_frame(retry_ms: int = RETRY_MS) -> bytes:
    return f"retry: {retry_ms}\n\n".encode()


def resync_frame(reason: str, seq: int) -> bytes:
    """Tells the page its position is unusable and it should reload the whole page."""
    import json

    data = json.dumps({"reason": reason, "seq": seq})
    return SseFrame(data=data, event="resync", retry=RETRY_MS).encode()
