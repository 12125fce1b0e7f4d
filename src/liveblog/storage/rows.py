"""Turning rows into domain values, shared by the store's query modules."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Row

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
