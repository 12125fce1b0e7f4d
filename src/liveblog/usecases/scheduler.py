"""Work that must happen once across all nodes: scheduled publishing and retention.

Every node runs the same loop; the database decides who does what. A due scheduled entry is
published inside the transaction that selects it (`FOR UPDATE SKIP LOCKED` on PostgreSQL, the
single writer on SQLite) and stops being "scheduled" in that same transaction, so a second node
either skips the locked row or no longer sees it. A periodic job runs only on the node whose
conditional update moved the job's `next_run_at` forward.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from liveblog.domain.audit import SCHEDULER, AuditAction
from liveblog.domain.models import BlogStatus, EntryStatus
from liveblog.usecases import sessions
from liveblog.usecases.audit import record_entry
from liveblog.usecases.entries import publish_step
from liveblog.usecases.media import withdrawn_among

if TYPE_CHECKING:
    from liveblog.service import Liveblog

log = logging.getLogger(__name__)

DUE_BATCH = 50
RETENTION_EVERY = timedelta(hours=1)
REVOKED_TOKENS_KEPT = timedelta(days=30)
"""Revoked API tokens stay this long (an audit trail of what was revoked), then go."""
PRESENCE_KEPT = timedelta(hours=1)
"""Desk pages not heard from for this long are forgotten (presence shows only the last 30 s)."""
OUTBOX_KEPT = timedelta(days=30)
"""Sent and failed purges and webhook deliveries are kept this long (the delivery log)."""


def node_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def publish_due(svc: Liveblog, limit: int = DUE_BATCH) -> int:
    """Publish up to `limit` scheduled entries whose time has come; returns how many this
    node published (`limit`: there may be more)."""
    now = svc.clock()
    with svc.store.read() as tx:
        due = tx.due_entries(now, limit)
    return sum(publish_one(svc, entry_id, blog_id, now) for entry_id, blog_id in due)


def publish_one(svc: Liveblog, entry_id: int, blog_id: int, now: datetime) -> bool:
    """One due entry in its own transaction, locking the blog before the entry — the order
    every editor's write takes — so the scheduler and an editor never deadlock. The entry is
    checked again under the lock: another node may have published it, an editor moved it."""
    with svc.door.write(at=now) as unit:
        tx = unit.tx
        blog = tx.blog_by_id(blog_id, for_update=True)
        entry = tx.lock_due_entry(entry_id, now)
        if blog is None or entry is None:
            return False
        entry.updated_at = unit.now
        if blog.status is BlogStatus.ENDED:
            # Nobody would see it: back to the desk as a draft instead of lost or looping.
            entry.status = EntryStatus.DRAFT
            tx.update_entry(entry)
            back = (AuditAction.ENTRY_DRAFT, {"reason": "the blog had ended"})
            unit.record(SCHEDULER, [back], blog_id=blog.id, entry_id=entry.id)
            log.warning(
                "blog %s has ended; scheduled entry %s went back to draft", blog.slug, entry.id
            )
            return False
        gone = withdrawn_among(tx, blog.id, entry.media)
        if gone:
            # Published without its pictures it would say something else than was approved:
            # back to the desk, with the reason, for an editor to decide.
            entry.status = EntryStatus.DRAFT
            tx.update_entry(entry)
            reason = {"reason": "a picture it shows was withdrawn", "media": gone}
            unit.record(
                SCHEDULER, [(AuditAction.ENTRY_DRAFT, reason)], blog_id=blog.id, entry_id=entry.id
            )
            log.warning(
                "scheduled entry %s of blog %s shows withdrawn pictures %s; back to draft",
                entry.id,
                blog.slug,
                gone,
            )
            return False
        entry.status = EntryStatus.PUBLISHED
        entry.published_at = unit.now
        tx.update_entry(entry)
        # The editor's own publishing step: the same events as publishing from the desk.
        publish_step(unit, svc.library, blog, entry, new=True, pin=False)
        record_entry(unit, SCHEDULER, entry, EntryStatus.SCHEDULED)
    return True


def run_retention(svc: Liveblog, node: str) -> bool:
    """Run this period's retention on this node if no other node has; True if it ran here."""
    with svc.door.write() as unit:
        tx, now = unit.tx, unit.now
        if not tx.claim_job("retention", now, now + RETENTION_EVERY, node):
            return False
        purged = tx.purge_revoked_tokens(now - REVOKED_TOKENS_KEPT)
        ended, counters = sessions.purge(tx, now)
        desks = tx.purge_presence(now - PRESENCE_KEPT)
        sent = tx.purge_outbox(now - OUTBOX_KEPT)
    log.info(
        "retention: purged %d revoked API tokens, %d ended sessions, %d login counters, "
        "%d closed desk pages, %d settled outbox items",
        purged,
        ended,
        counters,
        desks,
        sent,
    )
    return True


class JobRunner:
    """The per-node loop: look for due entries every `poll_seconds`, retention when claimed."""

    def __init__(self, svc: Liveblog, poll_seconds: float = 1.0) -> None:
        self.svc = svc
        self.poll_seconds = poll_seconds
        self.node = node_name()

    async def run(self) -> None:
        while True:
            try:
                while await asyncio.to_thread(publish_due, self.svc) == DUE_BATCH:
                    pass  # a backlog (a node was down): drain it before sleeping
                await asyncio.to_thread(run_retention, self.svc, self.node)
            except Exception:
                # The database may be away for a moment; the next turn retries. Nothing is
                # lost: due entries stay due until a transaction publishes them.
                log.exception("scheduled jobs failed; retrying")
            await asyncio.sleep(self.poll_seconds)
