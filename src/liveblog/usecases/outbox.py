"""What a committed change must tell the world outside: the outbox items a write unit leaves.

The door calls `Reach.enqueue` just before the commit, so the items are part of the change's own
transaction: a purge or a webhook delivery exists exactly when its change does, and the relay
(outbound/relay.py) sends it however long the destination is away, across restarts.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from liveblog.domain.events import Event, EventType
from liveblog.domain.outbox import WEBHOOK_EVENTS, OutboxItem, OutboxKind
from liveblog.domain.purges import purge_paths

if TYPE_CHECKING:
    from liveblog.usecases.door import WriteUnit

# When one write appends several events (a publish that unpins another entry), the purge is
# filed under the one that matters most to a reader: a retraction before anything else.
_WEIGHT = {
    EventType.ENTRY_RETRACTED: 5,
    EventType.BLOG_ENDED: 4,
    EventType.ENTRY_PUBLISHED: 3,
    EventType.ENTRY_UPDATED: 2,
    EventType.BLOG_UPDATED: 1,
}


@dataclass(slots=True)
class Reach:
    """The outbox's side of the configuration: the purge targets' names (each gets its own item
    per change, so each is retried and reported on its own), the site's base URL (to know which
    withdrawn URLs are the site's own paths), and how to wake this process's relay."""

    purge_targets: tuple[str, ...] = ()
    site_base: str = ""
    settle: timedelta = timedelta(0)
    """How long a purge waits before its first attempt: with several nodes, long enough for
    every node to have heard of the change (a refetch answered by a node that had not would
    store its old page in the cache again)."""
    _wakers: list[Callable[[], None]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def on_enqueue(self, waker: Callable[[], None]) -> None:
        with self._lock:
            self._wakers.append(waker)

    def wake(self) -> None:
        """Items were committed: the local relay looks now instead of at its next poll."""
        with self._lock:
            wakers = list(self._wakers)
        for waker in wakers:
            waker()

    def enqueue(self, unit: WriteUnit) -> int:
        items = self.items(unit)
        unit.tx.insert_outbox(items)
        return len(items)

    def items(self, unit: WriteUnit) -> list[OutboxItem]:
        items: list[OutboxItem] = []
        for blog_id, (blog, before_seq) in unit.touched.items():
            events = [e for e in unit.events if e.blog_id == blog_id]
            if self.purge_targets:
                main = max(events, key=lambda e: _WEIGHT.get(e.type, 0), default=None)
                paths = purge_paths(
                    blog.slug,
                    (e.entry_id for e in events if e.entry_id is not None),
                    before_seq,
                    self.site_base,
                    unit.withdrawn_urls.get(blog_id, ()),
                )
                payload = json.dumps(paths)
                for name in self.purge_targets:
                    items.append(
                        OutboxItem(
                            blog_id=blog_id,
                            seq=main.seq if main else blog.seq,
                            event_type=main.type.value if main else "",
                            kind=OutboxKind.PURGE,
                            target=name,
                            payload=payload,
                            created_at=unit.now,
                            next_attempt_at=unit.now + self.settle,
                        )
                    )
            items += _deliveries(unit, blog_id, events)
        return items


def _deliveries(unit: WriteUnit, blog_id: int, events: list[Event]) -> list[OutboxItem]:
    """One delivery per event per webhook that asked for its type, in seq order."""
    wanted = [e for e in events if e.type in WEBHOOK_EVENTS]
    if not wanted:
        return []
    hooks = unit.tx.webhooks(blog_id)
    return [
        OutboxItem(
            blog_id=blog_id,
            seq=event.seq,
            event_type=event.type.value,
            kind=OutboxKind.WEBHOOK,
            target=str(hook.id),
            payload="",
            created_at=unit.now,
            next_attempt_at=unit.now,
        )
        for event in wanted
        for hook in hooks
        if event.type in hook.events
    ]
