"""The audit log's record: who did what to which blog or entry, and when.

Staff-only, beside the public event log: one row per action, written in the same transaction as
the change it describes, so a row exists exactly when the change committed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class AuditAction(enum.StrEnum):
    """What was done: short, stable names that scripts may filter on."""

    BLOG_CREATE = "blog.create"
    BLOG_EDIT = "blog.edit"
    """Title or description changed (the detail names the fields, not their text)."""
    BLOG_KEY_POINTS = "blog.key_points"
    BLOG_END = "blog.end"
    BLOG_REOPEN = "blog.reopen"
    ENTRY_DRAFT = "entry.draft"
    """Saved as a draft: written as one, or sent back to one."""
    ENTRY_SUBMIT = "entry.submit"
    ENTRY_SCHEDULE = "entry.schedule"
    """Scheduled, or its time moved; the detail holds the time."""
    ENTRY_PUBLISH = "entry.publish"
    ENTRY_EDIT = "entry.edit"
    """Headline, body or correction changed; the detail holds the new version."""
    ENTRY_PIN = "entry.pin"
    ENTRY_UNPIN = "entry.unpin"
    ENTRY_KEY_EVENT = "entry.key_event"
    """Marked (or unmarked, `"key_event": false`) as a key event."""
    ENTRY_RETRACT = "entry.retract"
    MEDIA_UPLOAD = "media.upload"
    """A picture uploaded; the detail holds its size, never its texts."""
    MEDIA_WITHDRAW = "media.withdraw"
    """A picture's last public use went; the detail lists the URLs a CDN must purge."""
    WEBHOOK_ADD = "webhook.add"
    """The detail holds the URL and events, never the secret."""
    WEBHOOK_REMOVE = "webhook.remove"
    TOKEN_CREATE = "token.create"
    TOKEN_REVOKE = "token.revoke"
    USER_CREATE = "user.create"
    USER_DISABLE = "user.disable"
    """Logins and API tokens refused, sessions ended."""
    USER_ENABLE = "user.enable"
    USER_PASSWORD = "user.password"
    """A new password set by an admin or the command line (sessions ended; never the password)."""


SCHEDULER = "scheduler"
"""The actor of what the scheduler does on its own (publishing a due entry)."""
SYSTEM = "system"
"""The actor of what an operator does with no user signed in: the command line."""


@dataclass(slots=True)
class AuditRecord:
    at: datetime
    actor: str
    """The user's name at the time (kept as written: renamed or removed users still read)."""
    action: str
    """An `AuditAction` (read back as plain text, so rows written by newer code still read)."""
    user_id: int | None = None
    """None for the scheduler and the command line."""
    blog_id: int | None = None
    entry_id: int | None = None
    detail: str = "{}"
    """Small JSON text: a version, a note, a time. Never an entry's text."""
    id: int = 0
    blog_slug: str | None = None
    """Filled in when read, for display."""


@dataclass(slots=True)
class AuditPage:
    """Audit records newest first, and the `before` id of the next (older) page, if any."""

    records: list[AuditRecord] = field(default_factory=list)
    next_before: int | None = None
