"""Indexes that keep a reader page's cost flat however long the blog grows.

The page reads the newest 50 entries including tombstones (retracted entries with a public
note), which the (blog_id, status, …) index cannot serve in order, and the pinned entry, which it
could only find by scanning every published entry.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_entries_timeline", "entries", ["blog_id", "published_at", "id"])
    op.create_index("ix_entries_pinned", "entries", ["blog_id", "pinned"])


def downgrade() -> None:
    op.drop_index("ix_entries_pinned", "entries")
    op.drop_index("ix_entries_timeline", "entries")
