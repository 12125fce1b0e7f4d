"""Writing the audit log: which rows a change makes, added to the change's own transaction.

The service (and the scheduler in jobs.py) call `record` inside their write transaction, so an
audit row commits or rolls back with the change it describes. The detail is small JSON — a
version, a correction or public note, a time — and never an entry's text: a retraction must not
leave the retracted words in the log.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from liveblog.domain.audit import SYSTEM, AuditAction, AuditPage, AuditRecord
from liveblog.domain.events import Event
from liveblog.domain.models import Blog, BlogStatus, Entry, EntryStatus, User
from liveblog.render.jsonview import dumps, iso
from liveblog.storage.base import Tx

Change = tuple[AuditAction, dict[str, Any]]
MAX_PAGE = 500

_STATUS_ACTIONS = {
    EntryStatus.DRAFT: AuditAction.ENTRY_DRAFT,
    EntryStatus.SUBMITTED: AuditAction.ENTRY_SUBMIT,
    EntryStatus.SCHEDULED: AuditAction.ENTRY_SCHEDULE,
    EntryStatus.PUBLISHED: AuditAction.ENTRY_PUBLISH,
}


def record(
    tx: Tx,
    at: datetime,
    by: User | str | None,
    changes: Iterable[Change],
    *,
    blog_id: int | None = None,
    entry_id: int | None = None,
) -> None:
    """Add one row per change, all in one INSERT. `by`: the user, or the name of the system
    part that acted (None: the command line)."""
    actor = SYSTEM if by is None else by
    rows = [
        AuditRecord(
            at=at,
            actor=actor if isinstance(actor, str) else actor.name,
            user_id=None if isinstance(actor, str) else actor.id,
            action=action,
            blog_id=blog_id,
            entry_id=entry_id,
            detail=dumps({k: v for k, v in detail.items() if v is not None}),
        )
        for action, detail in changes
    ]
    tx.insert_audit(rows)


def record_entry(
    tx: Tx,
    at: datetime,
    by: User | str,
    entry: Entry,
    events: list[Event],
    status_before: EntryStatus | None,
    content: bool = False,
    flags: Iterable[str] = (),
    rescheduled: bool = False,
) -> None:
    """The rows of a create (`status_before` None) or an edit of an entry; `events` are the
    write's events, from which the entries its pin displaced are read."""
    if status_before is None:
        flags = [flag for flag in ("pinned", "key_event") if getattr(entry, flag)]
    unpinned = [e.entry_id for e in events if e.entry_id is not None and e.entry_id != entry.id]
    changes = entry_changes(
        entry,
        status_before=status_before,
        content=content,
        flags=flags,
        rescheduled=rescheduled,
        unpinned=unpinned,
    )
    record(tx, at, by, changes, blog_id=entry.blog_id, entry_id=entry.id)


def blog_changes(before: dict[str, Any], blog: Blog) -> list[Change]:
    """What an update did to a blog, given its public JSON from before the update."""
    changes: list[Change] = []
    fields = [name for name in ("title", "description") if before[name] != getattr(blog, name)]
    if fields:
        changes.append((AuditAction.BLOG_EDIT, {"fields": fields}))
    if before["key_points"] != blog.key_points:
        changes.append((AuditAction.BLOG_KEY_POINTS, {"count": len(blog.key_points)}))
    if before["status"] != blog.status.value:
        ended = blog.status is BlogStatus.ENDED
        changes.append((AuditAction.BLOG_END if ended else AuditAction.BLOG_REOPEN, {}))
    return changes


def entry_changes(
    entry: Entry,
    *,
    status_before: EntryStatus | None,
    content: bool = False,
    flags: Iterable[str] = (),
    rescheduled: bool = False,
    unpinned: list[int] | None = None,
) -> list[Change]:
    """What a create (`status_before` None) or an edit did to an entry. `unpinned`: the
    entries this one's pin displaced, noted on its pin (or on its publish, for a pinned draft)."""
    flags = set(flags)
    changes: list[Change] = []
    if entry.status is not status_before:
        changes.append(_status_change(entry))
    elif rescheduled:
        changes.append((AuditAction.ENTRY_SCHEDULE, {"publish_at": iso(entry.scheduled_at)}))
    if content:
        fix = entry.correction  # a note given with this very edit, not an earlier one's
        note = fix.note if fix is not None and fix.at == entry.updated_at else None
        changes.append((AuditAction.ENTRY_EDIT, {"version": entry.version, "correction": note}))
    if "pinned" in flags:
        changes.append((AuditAction.ENTRY_PIN if entry.pinned else AuditAction.ENTRY_UNPIN, {}))
    if "key_event" in flags:
        changes.append((AuditAction.ENTRY_KEY_EVENT, {"key_event": entry.key_event}))
    if unpinned:
        target = AuditAction.ENTRY_PIN if "pinned" in flags else AuditAction.ENTRY_PUBLISH
        for action, detail in changes:
            if action is target:
                detail["unpinned"] = unpinned
    return changes


def _status_change(entry: Entry) -> Change:
    action = _STATUS_ACTIONS[entry.status]
    if action is AuditAction.ENTRY_PUBLISH:
        return action, {"version": entry.version}
    if action is AuditAction.ENTRY_SCHEDULE:
        return action, {"publish_at": iso(entry.scheduled_at)}
    return action, {}


def page(tx: Tx, blog_id: int | None, limit: int, before_id: int | None) -> AuditPage:
    """Up to `limit` records older than `before_id`, newest first, and where the next page
    starts."""
    limit = max(1, min(limit, MAX_PAGE))
    rows = tx.audit_records(blog_id, limit + 1, before_id)
    more = len(rows) > limit
    return AuditPage(records=rows[:limit], next_before=rows[limit - 1].id if more else None)
