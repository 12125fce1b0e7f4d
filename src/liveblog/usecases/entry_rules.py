"""The rules for changing an entry: content, flags, status, and what each viewer may see.

Pure functions on domain objects (they render Markdown, so they live beside the service rather
than in the domain package); the service calls them inside its write transactions.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from liveblog.domain.errors import Gone, InvalidInput, InvalidState, NotFound
from liveblog.domain.models import (
    Blog,
    BlogStatus,
    Correction,
    Entry,
    EntryStatus,
    Revision,
    User,
)
from liveblog.domain.rules import (
    MAX_HEADLINE,
    MAX_NOTE,
    Action,
    clean_text,
    may,
    require,
)

CREATABLE_STATUSES = {
    EntryStatus.DRAFT,
    EntryStatus.SUBMITTED,
    EntryStatus.SCHEDULED,
    EntryStatus.PUBLISHED,
}
MAX_SCHEDULE_AHEAD = timedelta(days=366)
ONLY_SCHEDULED = 'only a scheduled entry has one; send "status": "scheduled" with it'


ONLY_PUBLISHED = "only an entry published with this request may carry its original time"
CLOCK_SKEW = timedelta(minutes=1)
"""A given publishing time this far ahead of ours is taken as the writer's clock running fast."""


def check_published_at(value: datetime, now: datetime) -> datetime:
    """An entry's original publishing time (an import, a report written up offline): with its
    zone, and not in the future — a backdated entry takes its place in the timeline; a future
    one would sit on top of everything until then, which is what scheduling is for."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(
            "published_at", "must include a time zone offset, e.g. 2026-11-27T06:40:00+02:00"
        )
    try:
        value = value.astimezone(UTC)
    except OverflowError:
        raise InvalidInput("published_at", "is not a time that can be stored") from None
    if value > now + CLOCK_SKEW:
        raise InvalidInput(
            "published_at", 'is in the future; schedule the entry instead ("status": "scheduled")'
        )
    if value.year < 1990:
        raise InvalidInput("published_at", "must be after 1990")
    return min(value, now)


def check_publish_at(value: datetime, now: datetime) -> datetime:
    """A schedule time must say its zone (a bare 14:00 is a time-zone mistake waiting to happen),
    lie in the future, and within a year."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(
            "publish_at", "must include a time zone offset, e.g. 2026-11-27T21:00:00+01:00 or …Z"
        )
    try:
        value = value.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:30-05:00 lies past the last representable time
        raise InvalidInput("publish_at", "must be within a year from now") from None
    if value <= now:
        raise InvalidInput("publish_at", "is in the past; publish the entry now instead")
    if value - now > MAX_SCHEDULE_AHEAD:
        raise InvalidInput("publish_at", "must be within a year from now")
    return value


def apply_review_note(user: User, entry: Entry, changes: dict[str, Any]) -> bool:
    """An editor sends a submission back to its author with a comment; resubmitting clears
    it. True when the note changed."""
    note = changes.get("review_note")
    if note is None:
        if changes.get("status") == EntryStatus.SUBMITTED.value and entry.review_note:
            entry.review_note = None
            return True
        return False
    require(user, Action.EDIT_PUBLISHED)
    if entry.status is not EntryStatus.SUBMITTED or changes.get("status") != "draft":
        raise InvalidInput("review_note", 'goes with sending a submission back: "status": "draft"')
    entry.review_note = clean_text("review_note", note, limit=MAX_NOTE) or None
    return True


def apply_schedule(user: User, entry: Entry, changes: dict[str, Any], now: datetime) -> bool:
    """Set or move a schedule time; True when it changed."""
    value = changes.get("publish_at")
    if value is None:
        return False
    require(user, Action.PUBLISH)
    target = changes.get("status")
    if entry.status is not EntryStatus.SCHEDULED and target != EntryStatus.SCHEDULED.value:
        raise InvalidInput("publish_at", ONLY_SCHEDULED)
    when = check_publish_at(value, now)
    changed = when != entry.scheduled_at
    entry.scheduled_at = when
    return changed


def apply_flags(user: User, entry: Entry, changes: dict[str, Any]) -> set[str]:
    changed = set()
    for flag in ("pinned", "key_event"):
        value = changes.get(flag)
        if value is not None and bool(value) != getattr(entry, flag):
            require(user, Action.PIN)
            setattr(entry, flag, bool(value))
            changed.add(flag)
    return changed


def apply_status(
    user: User, blog: Blog, entry: Entry, changes: dict[str, Any], now: datetime
) -> bool:
    """Move a draft or submission along; True when this edit publishes it."""
    if changes.get("status") is None:
        return False
    target = entry_status(changes["status"])
    if target is entry.status:
        return False
    if entry.status is EntryStatus.PUBLISHED:
        raise InvalidState("a published entry cannot go back to draft; retract it instead")
    if target is EntryStatus.SCHEDULED:
        require(user, Action.PUBLISH)
        if blog.status is BlogStatus.ENDED:
            raise InvalidState("this live blog has ended; reopen it to schedule entries")
        if entry.scheduled_at is None or entry.scheduled_at <= now:
            raise InvalidInput("publish_at", "is required to schedule an entry")
    elif entry.status is EntryStatus.SCHEDULED:
        entry.scheduled_at = None  # unscheduled (or published now): the old time means nothing
    if target is EntryStatus.PUBLISHED:
        require(user, Action.PUBLISH)
        if blog.status is BlogStatus.ENDED:
            raise InvalidState("this live blog has ended; reopen it to publish")
        entry.published_at = now
        entry.status = target
        return True
    entry.status = target
    return False


def apply_content(entry: Entry, changes: dict[str, Any], now: datetime) -> bool:
    changed = False
    if changes.get("headline") is not None:
        headline = clean_text("headline", changes["headline"], limit=MAX_HEADLINE)
        changed |= headline != entry.headline
        entry.headline = headline
    if changes.get("body") is not None:
        body = changes["body"]  # emptiness is checked with the pictures (an entry needs one)
        if body != entry.body:
            entry.body = body  # the caller renders the entry's HTML once, body and pictures
            changed = True
    note = changes.get("correction")
    if note is not None:
        note = clean_text("correction", note, limit=MAX_NOTE)
        if note:
            entry.correction = Correction(note=note, at=now)
            changed = True
    return changed


def revision(entry: Entry, user: User, now: datetime) -> Revision:
    return Revision(
        entry_id=entry.id,
        version=entry.version,
        headline=entry.headline,
        body=entry.body,
        html=entry.html,
        correction=entry.correction.note if entry.correction else None,
        editor=user.name,
        created_at=now,
        media=list(entry.media),
    )


def entry_status(value: str) -> EntryStatus:
    try:
        state = EntryStatus(value)
    except ValueError:
        state = None
    if state not in CREATABLE_STATUSES:
        raise InvalidInput("status", "must be one of draft, submitted, scheduled, published")
    assert state is not None
    return state


def tombstone(entry: Entry) -> Entry:
    """A retracted entry keeps only its id, time and public note on its way to a page."""
    if entry.status is EntryStatus.RETRACTED:
        entry.headline = entry.body = entry.html = ""
        entry.correction = None
        entry.media = []
    return entry


def visible(entry: Entry | None, viewer: User | None) -> Entry:
    if entry is None:
        raise NotFound("no such entry in this blog")
    if entry.status is EntryStatus.RETRACTED:
        if entry.public_note:
            raise Gone("this entry was retracted", public_note=entry.public_note)
        raise NotFound("no such entry in this blog")
    if entry.status is not EntryStatus.PUBLISHED and not may_see_unpublished(entry, viewer):
        raise NotFound("no such entry in this blog")
    return entry


def may_see_unpublished(entry: Entry, viewer: User | None) -> bool:
    """Drafts and submissions: editors see them all, a contributor only their own."""
    if viewer is None:
        return False
    return may(viewer, Action.EDIT_PUBLISHED) or entry.author_id == viewer.id
