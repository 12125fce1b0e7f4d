"""The store's queries for desk presence. A part of `SqlTx` (a mixin), kept apart so that each
module stays small."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from liveblog.domain.models import Presence
from liveblog.storage.schema import desk_presence, users


class PresenceQueries:
    conn: Connection
    dialect: str

    def touch_presence(
        self, blog_id: int, tab: str, user_id: int, editing: int | None, at: datetime
    ) -> None:
        """Insert or refresh one desk tab's row in a single statement (both engines support
        INSERT … ON CONFLICT), so concurrent heartbeats never collide."""
        insert = pg_insert if self.dialect == "postgresql" else sqlite_insert
        values = {"user_id": user_id, "editing_entry_id": editing, "seen_at": at}
        statement = insert(desk_presence).values(blog_id=blog_id, tab=tab, **values)
        self.conn.execute(
            statement.on_conflict_do_update(
                index_elements=[desk_presence.c.blog_id, desk_presence.c.tab],
                set_=values,
                # A tab id is only ever refreshed by the user who opened it.
                where=desk_presence.c.user_id == user_id,
            )
        )

    def leave_presence(self, blog_id: int, tab: str, user_id: int) -> None:
        self.conn.execute(
            delete(desk_presence).where(
                desk_presence.c.blog_id == blog_id,
                desk_presence.c.tab == tab,
                desk_presence.c.user_id == user_id,
            )
        )

    def present(self, blog_id: int, since: datetime) -> list[Presence]:
        rows = self.conn.execute(
            select(desk_presence, users.c.name)
            .join(users, users.c.id == desk_presence.c.user_id)
            .where(desk_presence.c.blog_id == blog_id, desk_presence.c.seen_at >= since)
            .order_by(users.c.name, desk_presence.c.tab)
        )
        return [
            Presence(tab=r.tab, name=r.name, user_id=r.user_id, editing=r.editing_entry_id)
            for r in rows
        ]

    def purge_presence(self, before: datetime) -> int:
        result = self.conn.execute(delete(desk_presence).where(desk_presence.c.seen_at < before))
        return result.rowcount
