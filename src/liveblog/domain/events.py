"""The public event log: one ordered, gapless sequence of these per blog.

Only public changes become events. Drafts, submissions and schedules never do, so a
replay of the log can never leak them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class EventType(enum.StrEnum):
    ENTRY_PUBLISHED = "entry-published"
    """A new entry became public. Data: ``{"entry": {...}}`` with its rendered ``html``."""

    ENTRY_UPDATED = "entry-updated"
    """A public entry changed: its text, correction, pin or key-event flag. Data: ``{"entry"}``."""

    ENTRY_RETRACTED = "entry-retracted"
    """A public entry was withdrawn. Data: ``{"entry": {"id"}, "public_note"}``; earlier events
    carrying its text are redacted in the same transaction."""

    BLOG_UPDATED = "blog-updated"
    """Title, description, key points or status (reopening) changed. Data: ``{"blog": {...}}``."""

    BLOG_ENDED = "blog-ended"
    """The live blog has ended; readers' streams close after this. Data: ``{"blog": {...}}``."""


@dataclass(frozen=True, slots=True)
class Event:
    """One committed change. ``data`` is the JSON text exactly as every consumer receives it."""

    blog_id: int
    seq: int
    type: EventType
    entry_id: int | None
    data: str
    created_at: datetime


REDACTED_TYPES = frozenset({EventType.ENTRY_PUBLISHED, EventType.ENTRY_UPDATED})
"""Event types whose payload carries an entry's text and so is redacted on retraction."""


# --- the cross-node signal ------------------------------------------------------------------
# Nodes tell each other only "blog B reached seq N"; each node reads what it missed from the
# log. The signal is a hint: a lost or reordered one is repaired from the log, never trusted.

SIGNAL_CHANNEL = "liveblog_events"


def signal_payload(blog_id: int, seq: int) -> str:
    return f"{blog_id}:{seq}"


def parse_signal(payload: str) -> tuple[int, int] | None:
    """(blog_id, seq), or None for a payload this version does not understand."""
    blog, _, seq = payload.partition(":")
    if not (blog.isdigit() and seq.isdigit()):
        return None
    return int(blog), int(seq)
