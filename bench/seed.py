"""Fill a database with a long blog quickly (bulk inserts), for page benchmarks.

Entries are rendered once and inserted in bulk with their events, as the service would have
written them one by one; the blog's seq matches its log.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from liveblog.domain.models import Role
from liveblog.render.markdown import render_markdown
from liveblog.storage.schema import blogs, entries, entry_revisions, events
from liveblog.storage.sql import SqlStore

BODY = (
    "Update {n}: the river gauge at the old bridge reads **{level} m** and rising. "
    "Volunteers are filling sandbags at the [town hall](https://example.org/sandbags).\n\n"
    "- Roads closed: Mill Lane, Quay Street\n- Shelter open at the sports centre"
)


def seed_blog(url: str, slug: str, count: int, batch: int = 5_000) -> None:
    """A live blog `slug` with `count` published entries (the oldest one pinned)."""
    store = SqlStore(url)
    store.migrate()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with store.write() as tx:
        user = tx.user_by_name("page-author") or tx.insert_user(
            "page-author", Role.EDITOR, None, start
        )
        blog_id = tx.conn.execute(
            blogs.insert().values(
                slug=slug,
                title=f"A long blog ({count} entries)",
                description="Benchmark",
                key_points=json.dumps(["Page benchmark"]),
                language="en",
                timezone="UTC",
                status="live",
                seq=0,
                created_at=start,
                updated_at=start,
            )
        ).inserted_primary_key[0]  # type: ignore[index]
    done = 0
    while done < count:
        rows = []
        for n in range(done, min(count, done + batch)):
            body = BODY.format(n=n, level=1 + n % 7)
            at = start + timedelta(seconds=n)
            rows.append(
                {
                    "blog_id": blog_id,
                    "author_id": user.id,
                    "status": "published",
                    "headline": f"Update {n}",
                    "body": body,
                    "html": render_markdown(body),
                    "pinned": n == 0,
                    "key_event": n % 10 == 0,
                    "version": 1,
                    "created_at": at,
                    "updated_at": at,
                    "published_at": at,
                }
            )
        with store.write() as tx:
            first_id = None
            for row in rows:  # ids are needed for revisions and events
                entry_id = tx.conn.execute(entries.insert().values(**row)).inserted_primary_key[0]  # type: ignore[index]
                first_id = first_id or entry_id
                row["id"] = entry_id
            tx.conn.execute(
                entry_revisions.insert(),
                [
                    {
                        "entry_id": r["id"],
                        "version": 1,
                        "headline": r["headline"],
                        "body": r["body"],
                        "html": r["html"],
                        "editor_id": user.id,
                        "created_at": r["created_at"],
                    }
                    for r in rows
                ],
            )
            tx.conn.execute(
                events.insert(),
                [
                    {
                        "blog_id": blog_id,
                        "seq": done + i + 1,
                        "type": "entry-published",
                        "entry_id": r["id"],
                        "data": json.dumps({"entry": {"id": r["id"]}}),
                        "created_at": r["created_at"],
                    }
                    for i, r in enumerate(rows)
                ],
            )
            done += len(rows)
            tx.conn.execute(update(blogs).where(blogs.c.id == blog_id).values(seq=done))
    store.close()
