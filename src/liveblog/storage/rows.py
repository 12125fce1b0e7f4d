"""Turning rows into domain values, shared by the store's query modules."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Row

from liveblog.domain.media import MediaFile, MediaRef
from liveblog.domain.models import Role, User


def utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return utc_required(moment)


def utc_required(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes (stored in UTC); PostgreSQL aware ones in its zone.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def user_from_row(row: Row[Any]) -> User:
    return User(id=row.id, name=row.name, role=Role(row.role), disabled=bool(row.disabled))


# Pictures are kept inside entry, revision and blog rows as JSON, renditions included: a page or
# an event needs no further query, and content-addressed renditions never change.


def refs_to_json(refs: list[MediaRef]) -> str:
    return json.dumps([_ref_value(ref) for ref in refs], ensure_ascii=False)


def refs_from_json(text: str | None) -> list[MediaRef]:
    return [_ref(value) for value in json.loads(text or "[]")]


def ref_to_json(ref: MediaRef | None) -> str | None:
    return None if ref is None else json.dumps(_ref_value(ref), ensure_ascii=False)


def ref_from_json(text: str | None) -> MediaRef | None:
    return None if not text else _ref(json.loads(text))


def _ref_value(ref: MediaRef) -> dict[str, Any]:
    return {
        "id": ref.id,
        "alt": ref.alt,
        "caption": ref.caption,
        "credit": ref.credit,
        "width": ref.width,
        "height": ref.height,
        "files": [
            [f.key, f.width, f.height, f.format, f.media_type, f.bytes, f.url] for f in ref.files
        ],
    }


def _ref(value: dict[str, Any]) -> MediaRef:
    return MediaRef(
        id=value["id"],
        alt=value["alt"],
        caption=value["caption"],
        credit=value["credit"],
        width=value["width"],
        height=value["height"],
        files=tuple(MediaFile(*f) for f in value["files"]),
    )
