"""The store's queries for the audit log.

A part of `SqlTx` (a mixin), kept apart so that each module stays small.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, select

from liveblog.domain.audit import AuditRecord
from liveblog.storage.rows import utc_required
from liveblog.storage.schema import audit_log, blogs


class AuditQueries:
    conn: Connection
    dialect: str

    def insert_audit(self, records: Sequence[AuditRecord]) -> None:
        """All of one write's records in one INSERT."""
        if not records:
            return
        self.conn.execute(
            audit_log.insert(),
            [
                {
                    "at": r.at,
                    "user_id": r.user_id,
                    "actor": r.actor,
                    "action": str(r.action),
                    "blog_id": r.blog_id,
                    "entry_id": r.entry_id,
                    "detail": r.detail,
                }
                for r in records
            ],
        )

    def audit_records(
        self, blog_id: int | None, limit: int, before_id: int | None = None
    ) -> list[AuditRecord]:
        """Newest first; one blog's through its (blog_id, id) index, or everyone's."""
        query = select(audit_log, blogs.c.slug.label("blog_slug")).outerjoin(
            blogs, blogs.c.id == audit_log.c.blog_id
        )
        if blog_id is not None:
            query = query.where(audit_log.c.blog_id == blog_id)
        if before_id is not None:
            query = query.where(audit_log.c.id < before_id)
        rows = self.conn.execute(query.order_by(audit_log.c.id.desc()).limit(limit))
        # The columns are the record's fields, as named; only the time needs its zone back.
        return [AuditRecord(**{**r._asdict(), "at": utc_required(r.at)}) for r in rows]
