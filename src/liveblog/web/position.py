"""Where a reader's stream starts, decided the same way on both stream paths."""

from __future__ import annotations

import enum


class Start(enum.Enum):
    OK = "ok"
    RESYNC = "resync"
    ASK_LOG = "ask the log"
    """Ahead of what this hub has fanned out: maybe a commit it has not heard of yet."""


def classify(raw: str | None, hub_seq: int) -> tuple[Start, int]:
    """`raw` is the Last-Event-ID header or ?last_event_id (header first); no position means
    'from now on'. A position that is not a plain number is unusable: the page must reload."""
    if raw is None:
        return Start.OK, hub_seq
    raw = raw.strip()
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        return Start.RESYNC, hub_seq
    after = int(raw)
    if after > hub_seq:
        return Start.ASK_LOG, after
    return Start.OK, after
