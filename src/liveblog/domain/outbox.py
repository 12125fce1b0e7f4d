"""What leaves the site: CDN purges and webhook deliveries, kept in one outbox.

A change writes its outbox items in its own transaction, so an item exists exactly when its
change committed. One relay for the whole cluster sends them (outbound/relay.py). Items travel
in lanes — one per blog and destination — and a lane is strictly ordered: an item waits while an
earlier one of its lane is pending, so a retraction's webhook never overtakes its publish's.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from liveblog.domain.events import EventType


class OutboxKind(enum.StrEnum):
    PURGE = "purge"
    """Payload: the paths to purge, as a JSON list; target: the purge target's name."""
    WEBHOOK = "webhook"
    """Payload empty: the body is the event as the log holds it when sent (so a retraction's
    redaction reaches a delivery still waiting); target: the webhook's id."""


class OutboxState(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    """Given up after `MAX_ATTEMPTS`, or its destination was removed."""


MAX_ATTEMPTS = 12
"""About four hours of retries with the backoff below, then the item is marked failed."""
FIRST_RETRY = timedelta(seconds=5)
LAST_RETRY = timedelta(hours=1)

WEBHOOK_EVENTS = frozenset(
    {
        EventType.ENTRY_PUBLISHED,
        EventType.ENTRY_UPDATED,
        EventType.ENTRY_RETRACTED,
        EventType.BLOG_ENDED,
    }
)
"""The events a webhook may ask for."""


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failure: doubling from 5 s, at most an hour."""
    return min(FIRST_RETRY * (2 ** max(attempts - 1, 0)), LAST_RETRY)


def lane(kind: OutboxKind, target: str, blog_id: int) -> str:
    return f"{kind.value}:{target}:{blog_id}"


@dataclass(slots=True)
class OutboxItem:
    blog_id: int
    seq: int
    """The last event of the change that wrote it."""
    kind: OutboxKind
    target: str
    payload: str
    created_at: datetime
    next_attempt_at: datetime
    id: int = 0
    state: OutboxState = OutboxState.PENDING
    attempts: int = 0
    last_error: str = ""
    sent_at: datetime | None = None
    event_type: str = ""
    """What the change was (the event type of `seq`), for the desk's delivery log."""

    @property
    def lane(self) -> str:
        return lane(self.kind, self.target, self.blog_id)


@dataclass(slots=True)
class Webhook:
    blog_id: int
    url: str
    events: tuple[EventType, ...]
    secret: str = field(repr=False)
    created_at: datetime
    id: int = 0


SIGNATURE_HEADER = "Liveblog-Signature"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`. The
    receiver recomputes it with the shared secret and refuses an old `t` (a replay)."""
    mac = hmac.new(secret.encode(), b"%d." % timestamp + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"
