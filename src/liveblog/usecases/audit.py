"""The audit log: which rows a change makes, and reading them back (editors and admins).

Use cases add the rows through their write unit (`WriteUnit.record`, usecases/door.py), so an
audit row commits or rolls back with the change it describes. The detail is small JSON — a
version, a correction or public note, a time — and never an entry's text: a retraction must not
leave the retracted words in the log.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from liveblog.domain.audit import AuditAction, AuditPage
from liveblog.domain.models import Blog, BlogStatus, Entry, EntryStatus, User
from liveblog.domain.rules import Action, require
from liveblog.render.jsonview import iso
from liveblog.storage.base import AuditTx
from liveblog.usecases.core import Core
from liveblog.usecases.door import Change, WriteUnit
from liveblog.usecases.lookup import blog_or_404

MAX_PAGE = 500

_STATUS_ACTIONS = {
    EntryStatus.DRAFT: AuditAction.ENTRY_DRAFT,
    EntryStatus.SUBMITTED: AuditAction.ENTRY_SUBMIT,
    EntryStatus.SCHEDULED: AuditAction.ENTRY_SCHEDULE,
    EntryStatus.PUBLISHED: AuditAction.ENTRY_PUBLISH,
}


def record_entry(
    unit: WriteUnit,
    by: User | str,
    entry: Entry,
    status_before: EntryStatus | None,
    content: bool = False,
    flags: Iterable[str] = (),
    rescheduled: bool = False,
    backdated: bool = False,
) -> None:
    """The rows of a create (`status_before` None) or an edit of an entry; the entries its pin
    displaced are read from the write's events. A backdated publish notes the time it was
    given (`published_at`), beside the time it was written (the record's own)."""
    if status_before is None:
        flags = [flag for flag in ("pinned", "key_event") if getattr(entry, flag)]
    unpinned = [
        e.entry_id for e in unit.events if e.entry_id is not None and e.entry_id != entry.id
    ]
    changes = entry_changes(
        entry,
        status_before=status_before,
        content=content,
        flags=flags,
        rescheduled=rescheduled,
        unpinned=unpinned,
    )
    if backdated:
        for action, detail in changes:
            if action is AuditAction.ENTRY_PUBLISH:
                detail["published_at"] = iso(entry.published_at)
    unit.record(by, changes, blog_id=entry.blog_id, entry_id=entry.id)


def blog_changes(before: dict[str, Any], blog: Blog) -> list[Change]:
    """What an update did to a blog, given its public JSON from before the update."""
    changes: list[Change] = []
    names = ("title", "description", "language", "timezone")
    fields = [name for name in names if before[name] != getattr(blog, name)]
    if (before["cover"] or {}).get("id") != (blog.cover.id if blog.cover else None):
        fields.append("cover")
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


def page(tx: AuditTx, blog_id: int | None, limit: int, before_id: int | None) -> AuditPage:
    """Up to `limit` records older than `before_id`, newest first, and where the next page
    starts."""
    limit = max(1, min(limit, MAX_PAGE))
    rows = tx.audit_records(blog_id, limit + 1, before_id)
    more = len(rows) > limit
    return AuditPage(records=rows[:limit], next_before=rows[limit - 1].id if more else None)


class AuditTrail(Core):
    def audit(
        self, user: User, slug: str | None = None, limit: int = 100, before_id: int | None = None
    ) -> AuditPage:
        """Who did what, newest first, for editors and admins."""
        require(user, Action.VIEW_AUDIT)
        return self.audit_log(slug, limit, before_id)

    def audit_log(
        self, slug: str | None = None, limit: int = 100, before_id: int | None = None
    ) -> AuditPage:
        """`audit` without a user, for the command line (which has the database's own rights)."""
        with self.store.read() as tx:
            blog_id = None if slug is None else blog_or_404(tx, slug).id
            return page(tx, blog_id, limit, before_id)
