"""An event log held in memory, behind the same `EventLog` interface as the SQL store's.

For tests of what reads the log (the hub's repair and replay, the stream writers) without a
database, and as the executable statement of the log's contract: `tests/test_storage.py` runs
the same log tests against it, SQLite and PostgreSQL. It keeps what the contract promises —
gapless per-blog seq from 1, oldest first, redaction in place — and nothing else (no
transactions: each call is one atomic step under a lock).
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime

from liveblog.domain.events import REDACTED_TYPES, Event, EventType


class MemoryEventLog:
    def __init__(self) -> None:
        self._events: dict[int, list[Event]] = {}
        self._lock = threading.Lock()

    def append_event(
        self, blog_id: int, type: EventType, entry_id: int | None, data: str, at: datetime
    ) -> Event:
        with self._lock:
            log = self._events.setdefault(blog_id, [])
            event = Event(
                blog_id=blog_id,
                seq=len(log) + 1,
                type=type,
                entry_id=entry_id,
                data=data,
                created_at=at,
            )
            log.append(event)
            return event

    def events_after(self, blog_id: int, after: int, limit: int) -> list[Event]:
        with self._lock:
            log = self._events.get(blog_id, [])
            # seq n sits at index n - 1: the slice is the page, no scan.
            start = max(after, 0)
            return log[start : start + max(limit, 0)]

    def redact_entry_events(self, blog_id: int, entry_id: int, redacted_data: str) -> int:
        with self._lock:
            log = self._events.get(blog_id, [])
            changed = 0
            for index, event in enumerate(log):
                if event.entry_id == entry_id and event.type in REDACTED_TYPES:
                    log[index] = replace(event, data=redacted_data)
                    changed += 1
            return changed
