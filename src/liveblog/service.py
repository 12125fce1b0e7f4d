"""The use cases: the one door every write goes through.

Each write runs in one store transaction that also appends its public events to the blog's log;
only after the commit are the events handed to the hub for fan-out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from liveblog import audit, credentials, editing
from liveblog.broadcast.base import Hub
from liveblog.domain.audit import AuditAction, AuditPage
from liveblog.domain.errors import (
    InvalidInput,
    InvalidState,
    NotAuthenticated,
    NotFound,
    VersionConflict,
    VersionRequired,
)
from liveblog.domain.events import Event, EventType
from liveblog.domain.models import (
    Blog,
    BlogStatus,
    Entry,
    EntryPage,
    EntryStatus,
    Revision,
    Role,
    User,
)
from liveblog.domain.rules import (
    MAX_DESCRIPTION,
    MAX_HEADLINE,
    MAX_NOTE,
    MAX_TITLE,
    Action,
    check_key_points,
    check_language,
    check_password,
    check_slug,
    check_timezone,
    check_username,
    clean_text,
    may,
    require,
)
from liveblog.metrics import EVENTS_COMMITTED, timed_write
from liveblog.render.jsonview import blog_json, dumps, entry_json
from liveblog.render.markdown import render_markdown
from liveblog.storage.base import Store, Tx

MAX_PAGE = 100
MAX_EVENTS = 500


def utcnow() -> datetime:
    return datetime.now(UTC)


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


class Liveblog:
    def __init__(self, store: Store, hub: Hub, clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.hub = hub
        self.clock = clock

    # --- users and tokens -------------------------------------------------------------------
    # `by`: the admin acting, or None for the command line (the audit log says "system").

    def create_user(
        self, name: str, role: Role, password: str | None, by: User | None = None
    ) -> User:
        if by is not None:
            require(by, Action.MANAGE_USERS)
        check_username(name)
        if password is not None:
            check_password(password)
        hashed = credentials.hash_password(password) if password else None
        now = self.clock()
        with self.store.write() as tx:
            user = tx.insert_user(name, role, hashed, now)
            audit.record(tx, now, by, [(AuditAction.USER_CREATE, {"user": name, "role": role})])
            return user

    def create_token(self, user_name: str, by: User | None = None) -> str:
        if by is not None:
            require(by, Action.MANAGE_USERS)
        token = credentials.new_token()
        now = self.clock()
        with self.store.write() as tx:
            user = tx.user_by_name(user_name)
            if user is None:
                raise NotFound(f"no user named {user_name!r}")
            tx.insert_token(user.id, credentials.hash_token(token), now)
            audit.record(tx, now, by, [(AuditAction.TOKEN_CREATE, {"user": user.name})])
        return token

    def revoke_token(self, token: str, by: User | None = None) -> None:
        """Stop a token working at once (kept, revoked, for a while: see jobs.run_retention)."""
        if by is not None:
            require(by, Action.MANAGE_USERS)
        hashed, now = credentials.hash_token(token), self.clock()
        with self.store.write() as tx:
            owner = tx.user_by_token_hash(hashed)
            if owner is None or not tx.revoke_token(hashed, now):
                raise NotFound("no such active API token")
            audit.record(tx, now, by, [(AuditAction.TOKEN_REVOKE, {"user": owner.name})])

    def user_for_token(self, token: str) -> User:
        with self.store.read() as tx:
            user = tx.user_by_token_hash(credentials.hash_token(token))
        if user is None or user.disabled:
            raise NotAuthenticated("the API token is unknown or revoked")
        return user

    def user_count(self) -> int:
        with self.store.read() as tx:
            return tx.count_users()

    # --- blogs ------------------------------------------------------------------------------

    def create_blog(
        self,
        user: User,
        *,
        slug: str,
        title: str,
        description: str = "",
        key_points: list[str] | None = None,
        language: str = "en",
        timezone: str = "UTC",
    ) -> Blog:
        require(user, Action.CREATE_BLOG)
        now = self.clock()
        blog = Blog(
            id=0,
            slug=check_slug(slug),
            title=clean_text("title", title, limit=MAX_TITLE, required=True),
            description=clean_text("description", description, limit=MAX_DESCRIPTION),
            key_points=check_key_points(key_points or []),
            language=check_language(language),
            timezone=check_timezone(timezone),
            status=BlogStatus.LIVE,
            seq=0,
            created_at=now,
            updated_at=now,
        )
        with self.store.write() as tx:
            tx.insert_blog(blog)
            changes = [(AuditAction.BLOG_CREATE, {"title": blog.title})]
            audit.record(tx, now, user, changes, blog_id=blog.id)
            return blog

    def blog(self, slug: str) -> Blog:
        with self.store.read() as tx:
            return blog_or_404(tx, slug)

    def blogs(self, limit: int = 50) -> list[Blog]:
        with self.store.read() as tx:
            return tx.list_blogs(limit)

    @timed_write
    def update_blog(self, user: User, slug: str, changes: dict[str, Any]) -> Blog:
        """Apply title/description/key_points/status changes; one event if anything changed."""
        require(user, Action.EDIT_BLOG)
        status = changes.get("status")
        if status is not None:
            require(user, Action.END_BLOG)
            try:
                status = BlogStatus(status)
            except ValueError:
                raise InvalidInput("status", "must be 'live' or 'ended'") from None
        with self.store.write() as tx:
            blog = blog_or_404(tx, slug, for_update=True)
            before = blog_json(blog)
            now = self.clock()
            if changes.get("title") is not None:
                blog.title = clean_text("title", changes["title"], limit=MAX_TITLE, required=True)
            if changes.get("description") is not None:
                blog.description = clean_text(
                    "description", changes["description"], limit=MAX_DESCRIPTION
                )
            if changes.get("key_points") is not None:
                blog.key_points = check_key_points(changes["key_points"])
            ending = status is BlogStatus.ENDED and blog.status is BlogStatus.LIVE
            if status is not None and status is not blog.status:
                blog.status = status
                blog.ended_at = now if ending else None
            if blog_json(blog) == before:
                return blog
            blog.updated_at = now
            tx.update_blog(blog)
            audit.record(tx, now, user, audit.blog_changes(before, blog), blog_id=blog.id)
            kind = EventType.BLOG_ENDED if ending else EventType.BLOG_UPDATED
            event = self.append_event(tx, blog, kind, None, {"blog": blog_json(blog)})
        self.announce(blog.id, [event])
        return blog

    # --- entries: reading -------------------------------------------------------------------

    def entry(self, slug: str, entry_id: int, viewer: User | None = None) -> Entry:
        """A public entry; a signed-in user may also see drafts and submissions."""
        with self.store.read() as tx:
            blog = blog_or_404(tx, slug)
            entry = tx.entry(blog.id, entry_id)
        return editing.visible(entry, viewer)

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
        visible = [editing.tombstone(e) for e in rows[:limit] if e.id not in pinned_ids]
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

    # --- entries: writing -------------------------------------------------------------------

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
    ) -> Entry:
        state = editing.entry_status(status)
        require(user, Action.WRITE_DRAFT)
        if state in (EntryStatus.PUBLISHED, EntryStatus.SCHEDULED):
            require(user, Action.PUBLISH)
        scheduled_at = None
        if state is EntryStatus.SCHEDULED:
            if publish_at is None:
                raise InvalidInput("publish_at", "is required to schedule an entry")
            scheduled_at = editing.check_publish_at(publish_at, self.clock())
        elif publish_at is not None:
            raise InvalidInput("publish_at", editing.ONLY_SCHEDULED)
        if pinned or key_event:
            require(user, Action.PIN)
        headline = clean_text("headline", headline, limit=MAX_HEADLINE)
        html = render_markdown(body)
        if not body.strip():
            raise InvalidInput("body", "must not be empty")
        now = self.clock()
        published = state is EntryStatus.PUBLISHED
        with self.store.write() as tx:
            blog = blog_or_404(tx, slug, for_update=True)
            if (scheduled_at is not None or published) and blog.status is BlogStatus.ENDED:
                raise InvalidState("this live blog has ended; reopen it to publish")
            entry = tx.insert_entry(
                Entry(
                    id=0,
                    blog_id=blog.id,
                    author=user.name,
                    author_id=user.id,
                    status=state,
                    headline=headline,
                    body=body,
                    html=html,
                    pinned=pinned,
                    key_event=key_event,
                    version=1,
                    created_at=now,
                    updated_at=now,
                    published_at=now if published else None,
                    scheduled_at=scheduled_at,
                )
            )
            tx.insert_revision(editing.revision(entry, user, now), user.id)
            events: list[Event] = []
            if published:
                if pinned:
                    events += self.unpin_others(tx, blog, entry.id, now)
                events.append(
                    self.append_event(
                        tx, blog, EventType.ENTRY_PUBLISHED, entry.id, {"entry": entry_json(entry)}
                    )
                )
            audit.record_entry(tx, now, user, entry, events, status_before=None)
        if events:
            self.announce(blog.id, events)
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
        now = self.clock()
        with self.store.write() as tx:
            blog, entry = _existing_entry(tx, slug, entry_id)
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
            content = editing.apply_content(entry, changes, now)
            flags = editing.apply_flags(user, entry, changes)
            status_before = entry.status
            rescheduled = editing.apply_schedule(user, entry, changes, now)
            reviewed = editing.apply_review_note(user, entry, changes)
            publishing = editing.apply_status(user, blog, entry, changes, now)
            # e.g. draft -> submitted, or a new schedule time: saved, but no public event
            moved = entry.status is not status_before or rescheduled or reviewed
            if not (content or flags or moved):
                return entry
            entry.updated_at = now
            if content:
                entry.version += 1
                tx.insert_revision(editing.revision(entry, user, now), user.id)
            tx.update_entry(entry)
            events: list[Event] = []
            if entry.status is EntryStatus.PUBLISHED:
                if entry.pinned and (publishing or "pinned" in flags):
                    events += self.unpin_others(tx, blog, entry.id, now)
                kind = EventType.ENTRY_PUBLISHED if publishing else EventType.ENTRY_UPDATED
                data = {"entry": entry_json(entry)}
                events.append(self.append_event(tx, blog, kind, entry.id, data))
            audit.record_entry(
                tx, now, user, entry, events, status_before, content, flags, rescheduled
            )
        if events:
            self.announce(blog.id, events)
        return entry

    @timed_write
    def retract_entry(self, user: User, slug: str, entry_id: int, public_note: str = "") -> None:
        """Withdraw an entry everywhere; its text leaves every public copy in this transaction."""
        note = clean_text("public_note", public_note, limit=MAX_NOTE)
        require(user, Action.WRITE_DRAFT)
        with self.store.write() as tx:
            blog, entry = _existing_entry(tx, slug, entry_id)
            was_public = entry.status is EntryStatus.PUBLISHED
            if was_public or entry.author_id != user.id:
                require(user, Action.RETRACT)
            now = self.clock()
            entry.status = EntryStatus.RETRACTED
            entry.pinned = False
            entry.public_note = note or None
            entry.updated_at = now
            tx.update_entry(entry)
            retraction = (AuditAction.ENTRY_RETRACT, {"public_note": entry.public_note})
            audit.record(tx, now, user, [retraction], blog_id=blog.id, entry_id=entry.id)
            if not was_public:
                return
            tx.redact_entry_events(
                blog.id, entry.id, dumps({"entry": {"id": entry.id, "redacted": True}})
            )
            event = self.append_event(
                tx,
                blog,
                EventType.ENTRY_RETRACTED,
                entry.id,
                {"entry": {"id": entry.id}, "public_note": entry.public_note},
            )
        self.announce(blog.id, [event])

    # --- the audit log ----------------------------------------------------------------------

    def audit(
        self, user: User, slug: str | None = None, limit: int = 100, before_id: int | None = None
    ) -> AuditPage:
        """Who did what, newest first, for editors and admins."""
        require(user, Action.VIEW_AUDIT)
        return self.audit_log(slug, limit, before_id)

    def audit_log(
        self, slug: str | None = None, limit: int = 100, before_id: int | None = None
    ) -> AuditPage:
        """`audit` without a user, for the command line (which has the database's own rights)."""
        with self.store.read() as tx:
            blog_id = None if slug is None else blog_or_404(tx, slug).id
            return audit.page(tx, blog_id, limit, before_id)

    # --- building blocks of a write (also used by jobs.py) -----------------------------------

    def announce(self, blog_id: int, events: list[Event]) -> None:
        """Hand committed events to the hub (which returns at once)."""
        EVENTS_COMMITTED.inc(len(events))
        self.hub.publish(blog_id, events)

    def append_event(
        self, tx: Tx, blog: Blog, kind: EventType, entry_id: int | None, data: dict[str, Any]
    ) -> Event:
        if "blog" in data:
            data["blog"]["seq"] = blog.seq + 1  # the blog as of this very event
        event = tx.append_event(blog.id, kind, entry_id, dumps(data), self.clock())
        blog.seq = event.seq
        return event

    def unpin_others(self, tx: Tx, blog: Blog, keep_id: int, now: datetime) -> list[Event]:
        """One pinned entry at a time: unpin the rest in the same transaction as the new pin."""
        events = []
        for other in tx.pinned_entries(blog.id):
            if other.id == keep_id:
                continue
            other.pinned = False
            other.updated_at = now
            tx.update_entry(other)
            events.append(
                self.append_event(
                    tx, blog, EventType.ENTRY_UPDATED, other.id, {"entry": entry_json(other)}
                )
            )
        return events


def blog_or_404(tx: Tx, slug: str, *, for_update: bool = False) -> Blog:
    blog = tx.blog_by_slug(slug, for_update=for_update)
    if blog is None:
        raise NotFound(f"no live blog {slug!r}")
    return blog


def _existing_entry(tx: Tx, slug: str, entry_id: int) -> tuple[Blog, Entry]:
    """The blog (locked for update) and its not-retracted entry, or NotFound."""
    blog = blog_or_404(tx, slug, for_update=True)
    entry = tx.entry(blog.id, entry_id)
    if entry is None or entry.status is EntryStatus.RETRACTED:
        raise NotFound(f"no entry {entry_id} in this blog")
    return blog, entry
