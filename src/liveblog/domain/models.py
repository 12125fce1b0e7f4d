"""The nouns of a live blog as plain dataclasses."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from liveblog.domain.media import MediaRef


class Role(enum.StrEnum):
    """Newsroom-wide roles, from most to least powerful."""

    ADMIN = "admin"
    EDITOR = "editor"
    CONTRIBUTOR = "contributor"


class BlogStatus(enum.StrEnum):
    LIVE = "live"
    ENDED = "ended"


class EntryStatus(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    SCHEDULED = "scheduled"
    PUBLISHED = "published"
    RETRACTED = "retracted"


@dataclass(slots=True)
class User:
    id: int
    name: str
    role: Role
    disabled: bool = False


@dataclass(slots=True)
class LoginSession:
    """A browser's login: the cookie holds a random id; only its hash is stored."""

    id: int
    user_id: int
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    """The absolute end, however active the session is."""
    revoked_at: datetime | None = None
    user_agent: str = ""
    address: str = ""


@dataclass(slots=True)
class Blog:
    id: int
    slug: str
    title: str
    description: str
    key_points: list[str]
    language: str
    timezone: str
    status: BlogStatus
    seq: int
    created_at: datetime
    updated_at: datetime
    ended_at: datetime | None = None
    cover: MediaRef | None = None
    """The share image, shown with its renditions in the blog's JSON."""


@dataclass(slots=True)
class Correction:
    note: str
    at: datetime


@dataclass(slots=True)
class Entry:
    id: int
    blog_id: int
    author: str
    status: EntryStatus
    headline: str
    body: str
    html: str
    pinned: bool
    key_event: bool
    version: int
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None = None
    correction: Correction | None = None
    public_note: str | None = None
    author_id: int = 0
    scheduled_at: datetime | None = None
    """When a scheduled entry goes public (kept afterwards as a record)."""
    review_note: str | None = None
    """An editor's comment on a submission sent back to its author (staff only)."""
    media: list[MediaRef] = field(default_factory=list)
    """Pictures shown after the body, in this order; their texts belong to this revision."""


@dataclass(slots=True)
class Revision:
    entry_id: int
    version: int
    headline: str
    body: str
    html: str
    correction: str | None
    editor: str
    created_at: datetime
    media: list[MediaRef] = field(default_factory=list)


@dataclass(slots=True)
class EntryPage:
    """One page of a blog's published entries, newest first, and where the next page starts."""

    entries: list[Entry] = field(default_factory=list)
    next_cursor: tuple[datetime, int] | None = None


@dataclass(slots=True)
class Presence:
    """One open desk page of a blog: whose, and which entry it is editing, if any."""

    tab: str
    name: str
    user_id: int
    editing: int | None = None
