"""Where a reader's stream starts, decided the same way for every writer.

The position is the `Last-Event-ID` header (a browser's reconnect) or else the `last_event_id`
query parameter (the page's own first connect, at the seq it was rendered at). No position
means "from now on"; one that is not a plain number, or is ahead of the log, makes the page
resync. Both writers hand over the raw request (header pairs, query bytes), so the edge cases
are answered identically: an empty or blank value counts as absent (EventSource sends none
after an empty `id:`); repeated values that agree count once; repeated values that disagree
are read as HTTP combines repeated fields ("1, 2"), which is no position at all: resync.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from urllib.parse import parse_qsl

HEADER = b"last-event-id"
PARAMETER = "last_event_id"


class Start(enum.Enum):
    OK = "ok"
    RESYNC = "resync"
    ASK_LOG = "ask the log"
    """Ahead of what this hub has fanned out: maybe a commit it has not heard of yet."""


def position_of(headers: Iterable[tuple[bytes, bytes]], query: bytes) -> str | None:
    """The raw position from the request's header pairs (names lower-case, as both uvicorn's
    parser and ASGI give them) and its query string; the header wins."""
    found = _one(value.decode("latin-1") for name, value in headers if name == HEADER)
    if found is None and query:
        pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
        found = _one(value for name, value in pairs if name == PARAMETER)
    return found


def _one(values: Iterable[str]) -> str | None:
    distinct = dict.fromkeys(v for v in (value.strip() for value in values) if v)
    return ", ".join(distinct) or None


def classify(raw: str | None, hub_seq: int) -> tuple[Start, int]:
    """Where to start given the raw position and the last seq the hub fanned out."""
    if raw is None:
        return Start.OK, hub_seq
    raw = raw.strip()
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        return Start.RESYNC, hub_seq
    after = int(raw)
    if after > hub_seq:
        return Start.ASK_LOG, after
    return Start.OK, after
