"""The broadcast contract.

`publish` is called after a transaction commits, from any thread. It must return at once: the
hub fans out later on its own loop, and a hub that falls behind or loses a notification repairs
itself from the store's event log. Fan-out is an accelerator; the log is the truth.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from liveblog.domain.events import Event


class Hub(Protocol):
    def publish(self, blog_id: int, events: Sequence[Event]) -> None: ...


class NullHub:
    """For the CLI and scripts: writes still go to the log; nobody is listening in-process."""

    def publish(self, blog_id: int, events: Sequence[Event]) -> None:
        return None
