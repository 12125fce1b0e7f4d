"""Pictures: an uploaded photo's renditions, and the picture as one entry revision shows it.

A media item is uploaded once into a blog and kept as renditions only (the upload as received is
never stored). Its alt text, caption and credit at upload are defaults: each entry that uses it
carries its own copy of those texts, which belong to that entry's revision (edited with it,
redacted with it on retraction).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class MediaState(enum.StrEnum):
    PRIVATE = "private"
    """Uploaded, or used only by drafts, submissions and schedules: signed-in staff only."""
    PUBLIC = "public"
    """Used by a published entry or as a blog's cover: anyone may fetch it."""
    WITHDRAWN = "withdrawn"
    """Was public; no published entry and no cover uses it any more. Its files are deleted and
    its URLs answer 410."""


@dataclass(frozen=True, slots=True)
class MediaFile:
    """One rendition as stored: a content-addressed file name (`<sha256>.<ext>`)."""

    key: str
    width: int
    height: int
    format: str
    """avif, webp, jpeg or png."""
    media_type: str
    bytes: int
    url: str = ""
    """Where a page fetches it, fixed when the picture is placed in an entry or a cover (the
    app's /media/ path, or the object store's public URL once public)."""


@dataclass(slots=True)
class Media:
    id: int
    blog_id: int
    alt: str
    caption: str
    credit: str
    width: int
    height: int
    files: list[MediaFile]
    state: MediaState
    created_by: int
    created_at: datetime
    withdrawn_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class MediaRef:
    """A picture in one entry (or a blog's cover): which media item, with the texts it carries
    there, and the renditions copied in so a page or an event needs no further lookup."""

    id: int
    alt: str
    caption: str
    credit: str
    width: int
    height: int
    files: tuple[MediaFile, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class Withdrawal:
    """A picture taken down because its last public use went: what a CDN must purge."""

    media_id: int
    urls: tuple[str, ...]
    at: datetime
    entry_id: int | None = None
