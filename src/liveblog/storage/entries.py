"""The store's queries for entries and their revisions, including finding and locking the
scheduled entries that are due. A part of `SqlTx` (a mixin), kept apart so each module stays
small.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, or_, select, tuple_, update
from sqlalchemy.engine import Row

from liveblog.domain.models import Correction, Entry, EntryStatus, Revision
from liveblog.storage.rows import refs_from_json, refs_to_json, utc, utc_required
from liveblog.storage.schema import entries, entry_media, entry_revisions, users


class EntryQueries:
    conn: Connection
    dialect: str

    # --- entries ----------------------------------------------------------------------------

    def insert_entry(self, entry: Entry) -> Entry:
        entry.id = self.conn.execute(
            entries.insert().values(**_entry_values(entry))
        ).inserted_primary_key[0]  # type: ignore[index]
        self._index_media(entry)
        return entry

    def entry(self, blog_id: int, entry_id: int) -> Entry | None:
        row = self.conn.execute(
            _entry_select().where(entries.c.blog_id == blog_id, entries.c.id == entry_id)
        ).first()
        return _entry(row) if row else None

    def update_entry(self, entry: Entry) -> None:
        values = _entry_values(entry)
        self.conn.execute(update(entries).where(entries.c.id == entry.id).values(**values))
        self._index_media(entry)

    def _index_media(self, entry: Entry) -> None:
        """entry_media mirrors the entry's list, for "who still uses this picture?"."""
        self.conn.execute(entry_media.delete().where(entry_media.c.entry_id == entry.id))
        if entry.media:
            self.conn.execute(
                entry_media.insert(),
                [
                    {"entry_id": entry.id, "position": i, "media_id": ref.id}
                    for i, ref in enumerate(entry.media)
                ],
            )

    def pinned_entries(self, blog_id: int) -> list[Entry]:
        rows = self.conn.execute(
            _entry_select().where(
                entries.c.blog_id == blog_id,
                entries.c.pinned.is_(True),
                entries.c.status == EntryStatus.PUBLISHED.value,
            )
        )
        return [_entry(r) for r in rows]

    def published_entries(
        self,
        blog_id: int,
        limit: int,
        before: tuple[datetime, int] | None = None,
        *,
        tombstones: bool = False,
    ) -> list[Entry]:
        visible = entries.c.status == EntryStatus.PUBLISHED.value
        if tombstones:
            # Walk the (blog_id, published_at, id) index newest first and filter as we go: the
            # page's cost stays flat however many entries the blog has.
            visible = and_(
                entries.c.published_at.is_not(None),
                or_(
                    visible,
                    and_(
                        entries.c.status == EntryStatus.RETRACTED.value,
                        entries.c.public_note.is_not(None),
                    ),
                ),
            )
        query = _entry_select().where(entries.c.blog_id == blog_id, visible)
        if before is not None:
            query = query.where(tuple_(entries.c.published_at, entries.c.id) < tuple_(*before))
        query = query.order_by(entries.c.published_at.desc(), entries.c.id.desc()).limit(limit)
        return [_entry(r) for r in self.conn.execute(query)]

    def unpublished_entries(
        self, blog_id: int, limit: int, author_id: int | None = None
    ) -> list[Entry]:
        """Drafts, submissions and scheduled entries, newest change first; only one author's
        when `author_id` is given."""
        query = _entry_select().where(
            entries.c.blog_id == blog_id,
            entries.c.status.in_(
                [s.value for s in (EntryStatus.DRAFT, EntryStatus.SUBMITTED, EntryStatus.SCHEDULED)]
            ),
        )
        if author_id is not None:
            query = query.where(entries.c.author_id == author_id)
        query = query.order_by(entries.c.updated_at.desc(), entries.c.id.desc()).limit(limit)
        return [_entry(r) for r in self.conn.execute(query)]

    def insert_revision(self, revision: Revision, editor_id: int) -> None:
        self.conn.execute(
            entry_revisions.insert().values(
                entry_id=revision.entry_id,
                version=revision.version,
                headline=revision.headline,
                body=revision.body,
                html=revision.html,
                correction_note=revision.correction,
                media=refs_to_json(revision.media),
                editor_id=editor_id,
                created_at=revision.created_at,
            )
        )

    def revisions(self, entry_id: int) -> list[Revision]:
        rows = self.conn.execute(
            select(entry_revisions, users.c.name.label("editor"))
            .join(users, users.c.id == entry_revisions.c.editor_id)
            .where(entry_revisions.c.entry_id == entry_id)
            .order_by(entry_revisions.c.version)
        )
        return [
            Revision(
                entry_id=r.entry_id,
                version=r.version,
                headline=r.headline,
                body=r.body,
                html=r.html,
                correction=r.correction_note,
                editor=r.editor,
                created_at=utc_required(r.created_at),
                media=refs_from_json(r.media),
            )
            for r in rows
        ]

    def due_entries(self, now: datetime, limit: int) -> list[tuple[int, int]]:
        """(entry id, blog id) of scheduled entries whose time has come, oldest first: only
        candidates, each to be locked and checked again by `lock_due_entry`."""
        rows = self.conn.execute(
            select(entries.c.id, entries.c.blog_id)
            .where(
                entries.c.status == EntryStatus.SCHEDULED.value,
                entries.c.scheduled_at <= now,
            )
            .order_by(entries.c.scheduled_at, entries.c.id)
            .limit(limit)
        )
        return [(row.id, row.blog_id) for row in rows]

    def lock_due_entry(self, entry_id: int, now: datetime) -> Entry | None:
        """The entry, locked, if it is still scheduled and due; None if another node published
        it meanwhile (or holds it now) or an editor changed it."""
        query = _entry_select().where(
            entries.c.id == entry_id,
            entries.c.status == EntryStatus.SCHEDULED.value,
            entries.c.scheduled_at <= now,
        )
        if self.dialect == "postgresql":
            query = query.with_for_update(of=entries, skip_locked=True)
        row = self.conn.execute(query).first()
        return _entry(row) if row else None


# --- row <-> domain ---------------------------------------------------------------------------


def _entry_select() -> Any:
    return select(entries, users.c.name.label("author")).join(
        users, users.c.id == entries.c.author_id
    )


def _entry_values(entry: Entry) -> dict[str, Any]:
    return {
        "blog_id": entry.blog_id,
        "author_id": entry.author_id,
        "status": entry.status.value,
        "headline": entry.headline,
        "body": entry.body,
        "html": entry.html,
        "pinned": entry.pinned,
        "key_event": entry.key_event,
        "version": entry.version,
        "created_at": entry.created_at,
        "updated_at": entry.updated_at,
        "published_at": entry.published_at,
        "correction_note": entry.correction.note if entry.correction else None,
        "correction_at": entry.correction.at if entry.correction else None,
        "public_note": entry.public_note,
        "retracted_at": entry.updated_at if entry.status is EntryStatus.RETRACTED else None,
        "scheduled_at": entry.scheduled_at,
        "review_note": entry.review_note,
        "media": refs_to_json(entry.media),
    }


def _entry(row: Row[Any]) -> Entry:
    correction = None
    if row.correction_note is not None:
        correction = Correction(note=row.correction_note, at=utc_required(row.correction_at))
    return Entry(
        id=row.id,
        blog_id=row.blog_id,
        author=row.author,
        author_id=row.author_id,
        status=EntryStatus(row.status),
        headline=row.headline,
        body=row.body,
        html=row.html,
        pinned=bool(row.pinned),
        key_event=bool(row.key_event),
        version=row.version,
        created_at=utc_required(row.created_at),
        updated_at=utc_required(row.updated_at),
        published_at=utc(row.published_at),
        correction=correction,
        public_note=row.public_note,
        scheduled_at=utc(row.scheduled_at),
        review_note=row.review_note,
        media=refs_from_json(row.media),
    )
