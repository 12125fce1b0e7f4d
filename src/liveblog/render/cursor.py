"""Opaque keyset cursors over (published_at, id), so paging stays stable while entries arrive."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

from liveblog.domain.errors import InvalidInput

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def encode_cursor(published_at: datetime, entry_id: int) -> str:
    aware = published_at if published_at.tzinfo else published_at.replace(tzinfo=UTC)
    micros = (aware - _EPOCH) // timedelta(microseconds=1)
    raw = f"{micros}:{entry_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        micros_text, id_text = base64.urlsafe_b64decode(padded.encode()).decode().split(":")
        moment, entry_id = _EPOCH + timedelta(microseconds=int(micros_text)), int(id_text)
        if not 0 < entry_id < 2**63:  # no entry has such an id (ids are 64-bit)
            raise ValueError(entry_id)
        return moment, entry_id
    except (ValueError, UnicodeDecodeError, OverflowError, OSError):
        raise InvalidInput("before", "not a cursor this API returned") from None
