"""The one door every write goes through: a write unit.

A use case opens `door.write()` and gets a `WriteUnit`: the transaction, the time of the write
(one clock reading for everything it stamps), `append` for public events and `record` for
audit rows. The audit rows — and the outbox items of what must leave the site because of the
change (usecases/outbox.py) — are inserted just before the commit, in the same transaction, so
a row exists exactly when its change committed. The appended events are handed to the hub only
after the commit succeeded — by the door, not by a call each use case must remember — and never
when the transaction rolled back (the use case raised, or the commit failed).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from liveblog.broadcast.base import Hub
from liveblog.domain.audit import SYSTEM, AuditAction, AuditRecord
from liveblog.domain.events import Event, EventType
from liveblog.domain.models import Blog, User
from liveblog.metrics import EVENTS_COMMITTED
from liveblog.render.jsonview import dumps
from liveblog.storage.base import Store, Tx
from liveblog.usecases.outbox import Reach

log = logging.getLogger(__name__)

Change = tuple[AuditAction, dict[str, Any]]
Actor = User | str | None
"""Who acted: a user, the name of the system part that did (the scheduler), or None for the
command line (the audit log says "system")."""


class WriteUnit:
    """One write transaction as a use case sees it."""

    __slots__ = ("_after", "_audit", "events", "now", "touched", "tx", "withdrawn_urls")

    def __init__(self, tx: Tx, now: datetime) -> None:
        self.tx = tx
        self.now = now
        self.events: list[Event] = []
        """The public events appended so far, in seq order per blog."""
        self.touched: dict[int, tuple[Blog, int]] = {}
        """Each blog this write changed publicly, with its seq before the write."""
        self.withdrawn_urls: dict[int, list[str]] = {}
        """URLs of pictures taken down by this write, per blog (a CDN must forget them)."""
        self._audit: list[AuditRecord] = []
        self._after: list[Callable[[], None]] = []

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run `action` once the transaction has committed, before its events are announced
        (publishing or deleting a picture's files: readers told of an entry find its pictures
        where the entry says). Never run when the unit rolls back."""
        self._after.append(action)

    def append(
        self, blog: Blog, kind: EventType, entry_id: int | None, data: dict[str, Any]
    ) -> Event:
        """Append a public event to the blog's log; `blog.seq` moves to it."""
        if "blog" in data:
            data["blog"]["seq"] = blog.seq + 1  # the blog as of this very event
        self.touch(blog)
        event = self.tx.append_event(blog.id, kind, entry_id, dumps(data), self.now)
        blog.seq = event.seq
        self.events.append(event)
        return event

    def touch(self, blog: Blog) -> None:
        """The blog changed publicly without an event of its own (it was just created)."""
        self.touched.setdefault(blog.id, (blog, blog.seq))

    def withdrew(self, blog: Blog, urls: Iterable[str]) -> None:
        """These URLs served a picture that is now withdrawn."""
        self.touch(blog)
        self.withdrawn_urls.setdefault(blog.id, []).extend(urls)

    def record(
        self,
        by: Actor,
        changes: Iterable[Change],
        *,
        blog_id: int | None = None,
        entry_id: int | None = None,
    ) -> None:
        """Audit rows, one per change: small JSON details, never an entry's text (a retraction
        must not leave the retracted words in the log)."""
        actor = SYSTEM if by is None else by
        for action, detail in changes:
            self._audit.append(
                AuditRecord(
                    at=self.now,
                    actor=actor if isinstance(actor, str) else actor.name,
                    user_id=None if isinstance(actor, str) else actor.id,
                    action=action,
                    blog_id=blog_id,
                    entry_id=entry_id,
                    detail=dumps({k: v for k, v in detail.items() if v is not None}),
                )
            )

    def _flush_audit(self) -> None:
        if self._audit:
            self.tx.insert_audit(self._audit)
            self._audit = []


class Door:
    def __init__(
        self,
        store: Store,
        hub: Hub,
        clock: Callable[[], datetime],
        reach: Reach | None = None,
    ) -> None:
        self.store = store
        self.hub = hub
        self.clock = clock
        self.reach = reach or Reach()

    @contextmanager
    def write(self, at: datetime | None = None) -> Iterator[WriteUnit]:
        """A write unit whose time is `at` (a scheduler tick's), else the clock's now."""
        with self.store.write() as tx:
            unit = WriteUnit(tx, self.clock() if at is None else at)
            yield unit
            unit._flush_audit()
            queued = self.reach.enqueue(unit)
        # Reached only once the transaction committed.
        for action in unit._after:
            try:
                action()
            except Exception:
                # The change is committed whatever happens here; its readers must still hear
                # of it. What failed (an object store away) is logged for the operator.
                log.exception("an after-commit action failed")
        self._announce(unit.events)
        if queued:
            # After the hub heard of the change: a purge that refetches a page from this node
            # must find the new one, not the page cached in memory at the old seq.
            self.reach.wake()

    def _announce(self, events: list[Event]) -> None:
        """Hand committed events to the hub, a blog at a time (the hub returns at once)."""
        if not events:
            return
        EVENTS_COMMITTED.inc(len(events))
        by_blog: dict[int, list[Event]] = {}
        for event in events:
            by_blog.setdefault(event.blog_id, []).append(event)
        for blog_id, blog_events in by_blog.items():
            self.hub.publish(blog_id, blog_events)
