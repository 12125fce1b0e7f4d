"""What a session needs from the writer that carries its bytes to the reader.

A writer owns the connection (a socket, an ASGI response, later a GRIP answer to a proxy); the
session owns everything a stream means. The writer tells its session two things: `drained()`
when little is left unsent (the session then writes the next replay piece), and `closed()` once
the connection is over, whoever ended it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class Writer(Protocol):
    @property
    def send(self) -> Callable[[bytes], None]:
        """Queue bytes of the stream's body (frames shared by every reader: never altered).
        Read once by the session, so a writer can hand over its transport's own `write`: it
        is called once per reader per event."""
        ...

    @property
    def unsent(self) -> Callable[[], int]:
        """Bytes written but not yet taken by the connection."""
        ...

    def start_stream(self, first: bytes) -> None:
        """Write the 200 event-stream head, with the first bytes of the body."""
        ...

    def finish(self) -> None:
        """End the response once what was written has gone out."""
        ...

    def cut_off(self) -> None:
        """End the connection now, dropping what is unsent (the reader resumes from its last
        id)."""
        ...

    def no_content(self) -> None:
        """Answer 204: nothing will come (an EventSource stops reconnecting)."""
        ...

    def error(self, status: int, message: str) -> None:
        """Answer with a JSON error instead of a stream."""
        ...

    def stalled_since(self) -> float:
        """Since when (the loop's clock) the connection has taken nothing; 0 if it is moving."""
        ...
