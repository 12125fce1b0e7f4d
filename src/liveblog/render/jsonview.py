"""The public JSON shape of blogs and entries, shared by the API, the event log and feeds."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from liveblog.domain.events import Event
from liveblog.domain.media import MediaFile, MediaRef
from liveblog.domain.models import Blog, Entry, EntryStatus


def iso(moment: datetime | None) -> str | None:
    """UTC, second precision plus milliseconds, with a 'Z': one unambiguous form everywhere."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def event_json_text(event: Event, blog_slug: str | None = None) -> str:
    """An event as `/events` lists it (and a webhook delivers it, with `blog_slug`): JSON text,
    with the log's `data` spliced in as it is rather than parsed and encoded again."""
    blog = f'"blog":{json.dumps(blog_slug)},' if blog_slug is not None else ""
    return (
        f'{{{blog}"seq":{event.seq},"type":"{event.type.value}",'
        f'"created_at":"{iso(event.created_at)}","data":{event.data}}}'
    )


def blog_json(blog: Blog) -> dict[str, Any]:
    return {
        "slug": blog.slug,
        "title": blog.title,
        "description": blog.description,
        "key_points": list(blog.key_points),
        "language": blog.language,
        "timezone": blog.timezone,
        "status": blog.status.value,
        "seq": blog.seq,
        "created_at": iso(blog.created_at),
        "updated_at": iso(blog.updated_at),
        "ended_at": iso(blog.ended_at),
        "cover": None if blog.cover is None else media_json(blog.cover),
    }


def renditions_json(files: tuple[MediaFile, ...] | list[MediaFile]) -> list[dict[str, Any]]:
    return [{"url": f.url, "width": f.width, "height": f.height, "format": f.format} for f in files]


def media_json(ref: MediaRef) -> dict[str, Any]:
    """A picture as an entry or a cover shows it, with the URLs of its renditions."""
    return {
        "id": ref.id,
        "alt": ref.alt,
        "caption": ref.caption,
        "credit": ref.credit,
        "width": ref.width,
        "height": ref.height,
        "renditions": renditions_json(ref.files),
    }


def entry_json(entry: Entry) -> dict[str, Any]:
    correction = None
    if entry.correction is not None:
        correction = {"note": entry.correction.note, "at": iso(entry.correction.at)}
    data = {
        "id": entry.id,
        "version": entry.version,
        "headline": entry.headline,
        "body": entry.body,
        "html": entry.html,
        "pinned": entry.pinned,
        "key_event": entry.key_event,
        "status": entry.status.value,
        "published_at": iso(entry.published_at),
        "updated_at": iso(entry.updated_at),
        "author": {"name": entry.author},
        "correction": correction,
        "media": [media_json(ref) for ref in entry.media],
    }
    if entry.status is EntryStatus.SCHEDULED:
        data["publish_at"] = iso(entry.scheduled_at)
    if entry.review_note and entry.status in (EntryStatus.DRAFT, EntryStatus.SUBMITTED):
        data["review_note"] = entry.review_note  # never on a public entry
    return data


def dumps(value: Any) -> str:
    """Compact JSON, non-ASCII kept as is (smaller frames for non-English coverage)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
