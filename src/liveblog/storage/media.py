"""The store's queries for pictures: media rows and their renditions, who still uses one, and
the record of withdrawn pictures. A part of `SqlTx` (a mixin)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, exists, select, update
from sqlalchemy.engine import Row

from liveblog.domain.media import Media, MediaFile, MediaState, Withdrawal
from liveblog.domain.models import EntryStatus
from liveblog.storage.rows import utc, utc_required
from liveblog.storage.schema import (
    blogs,
    entries,
    entry_media,
    media,
    media_files,
    media_withdrawals,
)


class MediaQueries:
    conn: Connection
    dialect: str

    def insert_media(self, item: Media) -> Media:
        item.id = self.conn.execute(
            media.insert().values(
                blog_id=item.blog_id,
                alt=item.alt,
                caption=item.caption,
                credit=item.credit,
                width=item.width,
                height=item.height,
                state=item.state.value,
                created_by=item.created_by,
                created_at=item.created_at,
            )
        ).inserted_primary_key[0]  # type: ignore[index]
        self.conn.execute(
            media_files.insert(),
            [
                {
                    "media_id": item.id,
                    "key": f.key,
                    "width": f.width,
                    "height": f.height,
                    "format": f.format,
                    "media_type": f.media_type,
                    "bytes": f.bytes,
                }
                for f in item.files
            ],
        )
        return item

    def media_items(self, blog_id: int | None, ids: Iterable[int]) -> dict[int, Media]:
        """The blog's media with these ids (any blog's with None); others' and unknown ids are
        simply absent."""
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        query = select(media).where(media.c.id.in_(wanted))
        if blog_id is not None:
            query = query.where(media.c.blog_id == blog_id)
        if self.dialect == "postgresql":
            query = query.with_for_update()  # a state change below must not race another's
        items = {row.id: _media(row, []) for row in self.conn.execute(query)}
        for row in self.conn.execute(
            select(media_files)
            .where(media_files.c.media_id.in_(list(items)))
            .order_by(media_files.c.media_id, media_files.c.width, media_files.c.format)
        ):
            items[row.media_id].files.append(_file(row))
        return items

    def recent_media(self, blog_id: int, limit: int) -> list[Media]:
        """The blog's pictures that are not withdrawn, newest first (the desk's library)."""
        ids = self.conn.execute(
            select(media.c.id)
            .where(media.c.blog_id == blog_id, media.c.state != MediaState.WITHDRAWN.value)
            .order_by(media.c.id.desc())
            .limit(limit)
        ).scalars()
        items = self.media_items(blog_id, list(ids))
        return sorted(items.values(), key=lambda m: m.id, reverse=True)

    def set_media_state(self, media_id: int, state: MediaState, at: datetime) -> None:
        values: dict[str, Any] = {"state": state.value, "withdrawn_at": None}
        if state is MediaState.WITHDRAWN:
            # A withdrawn picture never shows again: its upload texts go with it (the entry's
            # own copies are redacted with the entry).
            values |= {"withdrawn_at": at, "alt": "", "caption": "", "credit": ""}
        self.conn.execute(update(media).where(media.c.id == media_id).values(**values))

    def media_in_public_use(self, media_id: int) -> bool:
        """Whether a published entry shows this picture or a blog has it as its cover."""
        in_entry = exists().where(
            entry_media.c.media_id == media_id,
            entries.c.id == entry_media.c.entry_id,
            entries.c.status == EntryStatus.PUBLISHED.value,
        )
        as_cover = exists().where(blogs.c.cover_id == media_id)
        return bool(self.conn.execute(select(in_entry | as_cover)).scalar())

    def keys_in_use(self, keys: Iterable[str], *, public: bool = False) -> set[str]:
        """Of these rendition names, those some media row still names that is not withdrawn
        (with `public`: that is public)."""
        wanted = list(set(keys))
        if not wanted:
            return set()
        kept = (
            media.c.state == MediaState.PUBLIC.value
            if public
            else media.c.state != MediaState.WITHDRAWN.value
        )
        rows = self.conn.execute(
            select(media_files.c.key)
            .join(media, media.c.id == media_files.c.media_id)
            .where(media_files.c.key.in_(wanted), kept)
        )
        return {row.key for row in rows}

    def file_access(self, key: str) -> tuple[str, set[MediaState]] | None:
        """A rendition's media type and the states of the media rows naming it; None when no
        row names it."""
        rows = self.conn.execute(
            select(media_files.c.media_type, media.c.state)
            .join(media, media.c.id == media_files.c.media_id)
            .where(media_files.c.key == key)
        ).all()
        if not rows:
            return None
        return rows[0].media_type, {MediaState(r.state) for r in rows}

    def insert_withdrawal(self, blog_id: int, withdrawal: Withdrawal) -> None:
        self.conn.execute(
            media_withdrawals.insert().values(
                blog_id=blog_id,
                entry_id=withdrawal.entry_id,
                media_id=withdrawal.media_id,
                urls=json.dumps(list(withdrawal.urls)),
                at=withdrawal.at,
            )
        )

    def withdrawals(self, blog_id: int, entry_id: int | None = None) -> list[Withdrawal]:
        """An entry's withdrawn pictures, or with None all of the blog's (covers included)."""
        query = select(media_withdrawals).where(media_withdrawals.c.blog_id == blog_id)
        if entry_id is not None:
            query = query.where(media_withdrawals.c.entry_id == entry_id)
        rows = self.conn.execute(query.order_by(media_withdrawals.c.id))
        return [
            Withdrawal(
                media_id=r.media_id,
                urls=tuple(json.loads(r.urls)),
                at=utc_required(r.at),
                entry_id=r.entry_id,
            )
            for r in rows
        ]


def _file(row: Row[Any]) -> MediaFile:
    return MediaFile(
        key=row.key,
        width=row.width,
        height=row.height,
        format=row.format,
        media_type=row.media_type,
        bytes=row.bytes,
    )


def _media(row: Row[Any], files: list[MediaFile]) -> Media:
    return Media(
        id=row.id,
        blog_id=row.blog_id,
        alt=row.alt,
        caption=row.caption,
        credit=row.credit,
        width=row.width,
        height=row.height,
        files=files,
        state=MediaState(row.state),
        created_by=row.created_by,
        created_at=utc_required(row.created_at),
        withdrawn_at=utc(row.withdrawn_at),
    )
