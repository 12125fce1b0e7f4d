"""Entries: reading what the public (or a colleague) may see, and writing — create, edit,
publish, pin, retract. `publish_step` is the one publishing step, shared with the scheduler."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from liveblog.domain.audit import AuditAction
from liveblog.domain.errors import (
    InvalidInput,
    InvalidState,
    NotFound,
    VersionConflict,
    VersionRequired,
)
from liveblog.domain.events import Event, EventType
from liveblog.domain.models import Blog, BlogStatus, Entry, EntryPage, EntryStatus, Revision, User
from liveblog.domain.rules import MAX_HEADLINE, MAX_NOTE, Action, clean_text, may, require
from liveblog.media.library import MediaLibrary
from liveblog.metrics import timed_write
from liveblog.render.figures import figures_html
from liveblog.render.jsonview import dumps, entry_json
from liveblog.render.markdown import render_markdown
from liveblog.usecases import entry_rules as rules
from liveblog.usecases.audit import record_entry
from liveblog.usecases.core import Core
from liveblog.usecases.door import WriteUnit
from liveblog.usecases.lookup import blog_or_404, existing_entry
from liveblog.usecases.media import (
    PictureTexts,
    parse_items,
    pictures_differ,
    place,
    publish_refs,
    withdraw_unused,
)

MAX_PAGE = 100
MAX_EVENTS = 500
EMPTY = "must not be empty (an entry needs text or a picture)"


@dataclass(slots=True)
class Snapshot:
    """A blog and its visible entries read in one transaction, so they agree on `blog.seq`."""

    blog: Blog
    pinned: list[Entry]
    entries: list[Entry]
    next_cursor: tuple[datetime, int] | None


@dataclass(slots=True)
class Version:
    """Which version an edit was based on, and where the caller said so (header or body)."""

    number: int
    from_header: bool


def publish_step(
    unit: WriteUnit, library: MediaLibrary, blog: Blog, entry: Entry, *, new: bool, pin: bool
) -> None:
    """The public events of a published entry's write: `new` when it has just become public
    (entry-published, else entry-updated); `pin` when its pin is new, which unpins the others
    (one pinned entry per blog) in the same transaction. Its pictures go public with it."""
    if entry.media:
        public = publish_refs(unit, library, blog.id, entry.media)
        if public != entry.media:  # public URLs differ from the staff ones (an object store)
            entry.media = public
            entry.html = render_markdown(entry.body) + figures_html(public)
            unit.tx.update_entry(entry)
    if entry.pinned and (new or pin):
        unpin_others(unit, blog, entry.id)
    kind = EventType.ENTRY_PUBLISHED if new else EventType.ENTRY_UPDATED
    unit.append(blog, kind, entry.id, {"entry": entry_json(entry)})


def unpin_others(unit: WriteUnit, blog: Blog, keep_id: int) -> None:
    for other in unit.tx.pinned_entries(blog.id):
        if other.id == keep_id:
            continue
        other.pinned = False
        other.updated_at = unit.now
        unit.tx.update_entry(other)
        unit.append(blog, EventType.ENTRY_UPDATED, other.id, {"entry": entry_json(other)})


class Entries(Core):
    # --- reading ----------------------------------------------------------------------------

    def entry(self, slug: str, entry_id: int, viewer: User | None = None) -> Entry:
        """A public entry; a signed-in user may also see drafts and submissions."""
        with self.store.read() as tx:
            blog = blog_or_404(tx, slug)
            entry = tx.entry(blog.id, entry_id)
        return rules.visible(entry, viewer)

    def entries(
        self, slug: str, limit: int = 20, before: tuple[datetime, int] | None = None
    ) -> tuple[Blog, EntryPage]:
        limit = max(1, min(limit, MAX_PAGE))
        with self.store.read() as tx:
            blog = blog_or_404(tx, slug)
            rows = tx.published_entries(blog.id, limit + 1, before)
        page = EntryPage(entries=rows[:limit])
        if len(rows) > limit:
            last = rows[limit - 1]
            assert last.published_at is not None
            page.next_cursor = (last.published_at, last.id)
        return blog, page

    def snapshot(
        self, slug: str, limit: int = 50, before: tuple[datetime, int] | None = None
    ) -> Snapshot:
        """What a reader page shows, all read at one seq."""
        with self.store.read() as tx:
            blog = blog_or_404(tx, slug)
            pinned = tx.pinned_entries(blog.id) if before is None else []
            rows = tx.published_entries(blog.id, limit + 1, before, tombstones=True)
        pinned_ids = {e.id for e in pinned}
        visible = [rules.tombstone(e) for e in rows[:limit] if e.id not in pinned_ids]
        cursor = None
        if len(rows) > limit:
            last = rows[limit - 1]
            assert last.published_at is not None
            cursor = (last.published_at, last.id)
        return Snapshot(blog=blog, pinned=pinned, entries=visible, next_cursor=cursor)

    def events(self, slug: str, after: int, limit: int = MAX_EVENTS) -> tuple[Blog, list[Event]]:
        if after < 0:
            raise InvalidInput("after", "must be 0 or more")
        limit = max(1, min(limit, MAX_EVENTS))
        with self.store.read() as tx:
            blog = blog_or_404(tx, slug)
            return blog, tx.events_after(blog.id, after, limit)

    def revisions(self, user: User, slug: str, entry_id: int) -> list[Revision]:
        with self.store.read() as tx:
            blog = blog_or_404(tx, slug)
            entry = tx.entry(blog.id, entry_id)
            # Staff history: editors see every entry's, a contributor only their own entries'.
            mine = entry is not None and entry.author_id == user.id
            if entry is None or not (mine or may(user, Action.EDIT_PUBLISHED)):
                raise NotFound(f"no entry {entry_id} in this blog")
            return tx.revisions(entry.id)

    # --- writing ----------------------------------------------------------------------------

    @timed_write
    def create_entry(
        self,
        user: User,
        slug: str,
        *,
        body: str,
        headline: str = "",
        pinned: bool = False,
        key_event: bool = False,
        status: str = "published",
        publish_at: datetime | None = None,
        published_at: datetime | None = None,
        media: list[PictureTexts | int] | None = None,
    ) -> Entry:
        """A new entry; `published_at` (editors and admins) gives a published entry its
        original time — an import, a report written up offline — in the past."""
        state = rules.entry_status(status)
        wanted = parse_items("media", media or [])
        require(user, Action.WRITE_DRAFT)
        if state in (EntryStatus.PUBLISHED, EntryStatus.SCHEDULED):
            require(user, Action.PUBLISH)
        scheduled_at = None
        if state is EntryStatus.SCHEDULED:
            if publish_at is None:
                raise InvalidInput("publish_at", "is required to schedule an entry")
            scheduled_at = rules.check_publish_at(publish_at, self.clock())
        elif publish_at is not None:
            raise InvalidInput("publish_at", rules.ONLY_SCHEDULED)
        if published_at is not None:
            if state is not EntryStatus.PUBLISHED:
                raise InvalidInput("published_at", rules.ONLY_PUBLISHED)
            require(user, Action.BACKDATE)
            published_at = rules.check_published_at(published_at, self.clock())
        if pinned or key_event:
            require(user, Action.PIN)
        headline = clean_text("headline", headline, limit=MAX_HEADLINE)
        html = render_markdown(body)  # outside the transaction: it is the slow part
        if not body.strip() and not wanted:
            raise InvalidInput("body", EMPTY)
        published = state is EntryStatus.PUBLISHED
        with self.door.write() as unit:
            now = unit.now
            blog = blog_or_404(unit.tx, slug, for_update=True)
            if (scheduled_at is not None or published) and blog.status is BlogStatus.ENDED:
                raise InvalidState("this live blog has ended; reopen it to publish")
            refs = place(unit.tx, self.library, blog.id, wanted, [], public=False)
            entry = unit.tx.insert_entry(
                Entry(
                    id=0,
                    blog_id=blog.id,
                    author=user.name,
                    author_id=user.id,
                    status=state,
                    headline=headline,
                    body=body,
                    html=html + figures_html(refs),
                    pinned=pinned,
                    key_event=key_event,
                    version=1,
                    created_at=now,
                    updated_at=now,
                    published_at=(published_at or now) if published else None,
                    scheduled_at=scheduled_at,
                    media=refs,
                )
            )
            if published:
                publish_step(unit, self.library, blog, entry, new=True, pin=pinned)
            unit.tx.insert_revision(rules.revision(entry, user, now), user.id)
            record_entry(unit, user, entry, status_before=None, backdated=published_at is not None)
        return entry

    @timed_write
    def edit_entry(
        self, user: User, slug: str, entry_id: int, changes: dict[str, Any], version: Version | None
    ) -> Entry:
        """Edit text, correction, flags or status. Content edits bump the version and are kept."""
        if version is None:
            raise VersionRequired(
                'say which version you edited: If-Match: "VERSION" or "version" in the body'
            )
        require(user, Action.WRITE_DRAFT)
        with self.door.write() as unit:
            now = unit.now
            blog, entry = existing_entry(unit.tx, slug, entry_id)
            was_public = entry.status is EntryStatus.PUBLISHED
            # A scheduled entry was approved to go public as it stands: only those who may
            # publish change it, or unreviewed text would go out at its time.
            if was_public or entry.status is EntryStatus.SCHEDULED:
                require(user, Action.EDIT_PUBLISHED)
            elif not may(user, Action.EDIT_PUBLISHED) and entry.author_id != user.id:
                raise NotFound(f"no entry {entry_id} in this blog")
            if version.number != entry.version:
                raise VersionConflict(
                    f"entry {entry_id} is at version {entry.version}, not {version.number}; "
                    "someone saved a change since you loaded it",
                    current=entry_json(entry),
                    precondition=version.from_header,
                )
            content = rules.apply_content(entry, changes, now)
            dropped: list[int] = []
            if changes.get("media") is not None:
                wanted = parse_items("media", changes["media"])
                refs = place(unit.tx, self.library, blog.id, wanted, entry.media, public=False)
                if pictures_differ(refs, entry.media):
                    kept = {r.id for r in refs}
                    dropped = [r.id for r in entry.media if r.id not in kept]
                    entry.media = refs
                    content = True
            if content:
                if not entry.body.strip() and not entry.media:
                    raise InvalidInput("body", EMPTY)
                entry.html = render_markdown(entry.body) + figures_html(entry.media)
            flags = rules.apply_flags(user, entry, changes)
            status_before = entry.status
            rescheduled = rules.apply_schedule(user, entry, changes, now)
            reviewed = rules.apply_review_note(user, entry, changes)
            publishing = rules.apply_status(user, blog, entry, changes, now)
            # e.g. draft -> submitted, or a new schedule time: saved, but no public event
            moved = entry.status is not status_before or rescheduled or reviewed
            if not (content or flags or moved):
                return entry
            entry.updated_at = now
            if content:
                entry.version += 1
                unit.tx.insert_revision(rules.revision(entry, user, now), user.id)
            unit.tx.update_entry(entry)
            if entry.status is EntryStatus.PUBLISHED:
                publish_step(unit, self.library, blog, entry, new=publishing, pin="pinned" in flags)
                if dropped:
                    withdraw_unused(unit, self.library, blog, dropped, user, entry_id=entry.id)
            record_entry(unit, user, entry, status_before, content, flags, rescheduled)
        return entry

    @timed_write
    def retract_entry(self, user: User, slug: str, entry_id: int, public_note: str = "") -> None:
        """Withdraw an entry everywhere; its text leaves every public copy in this transaction."""
        note = clean_text("public_note", public_note, limit=MAX_NOTE)
        require(user, Action.WRITE_DRAFT)
        with self.door.write() as unit:
            blog, entry = existing_entry(unit.tx, slug, entry_id)
            was_public = entry.status is EntryStatus.PUBLISHED
            if was_public or entry.author_id != user.id:
                require(user, Action.RETRACT)
            entry.status = EntryStatus.RETRACTED
            entry.pinned = False
            entry.public_note = note or None
            entry.updated_at = unit.now
            unit.tx.update_entry(entry)
            pictures = [ref.id for ref in entry.media]
            retraction = (AuditAction.ENTRY_RETRACT, {"public_note": entry.public_note})
            unit.record(user, [retraction], blog_id=blog.id, entry_id=entry.id)
            if not was_public:
                return
            if pictures:
                withdraw_unused(unit, self.library, blog, pictures, user, entry_id=entry.id)
            unit.tx.redact_entry_events(
                blog.id, entry.id, dumps({"entry": {"id": entry.id, "redacted": True}})
            )
            unit.append(
                blog,
                EventType.ENTRY_RETRACTED,
                entry.id,
                {"entry": {"id": entry.id}, "public_note": entry.public_note},
            )
