"""The outbox of what leaves the site (CDN purges, webhook deliveries), webhooks, and the relay's
lease (a `jobs` row whose holder renews it; another node takes over once it lapses).

Revision ID: 0009
Revises: 0008
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("blog_id", sa.Integer, sa.ForeignKey("blogs.id"), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("event_type", sa.String(32), nullable=False, server_default=""),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("lane", sa.String(160), nullable=False),
        sa.Column("payload", sa.Text, nullable=False, server_default=""),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_outbox_pending", "outbox", ["state", "id"])
    op.create_index("ix_outbox_blog", "outbox", ["blog_id", "id"])
    op.create_index("ix_outbox_lane", "outbox", ["lane", "state", "id"])
    op.create_table(
        "webhooks",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("blog_id", sa.Integer, sa.ForeignKey("blogs.id"), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("events", sa.Text, nullable=False),
        sa.Column("secret", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_webhooks_blog", "webhooks", ["blog_id"])
    jobs = sa.table("jobs", sa.column("name", sa.String), sa.column("next_run_at", sa.DateTime))
    op.bulk_insert(
        jobs, [{"name": "outbox-relay", "next_run_at": datetime(2000, 1, 1, tzinfo=UTC)}]
    )


def downgrade() -> None:
    op.execute("DELETE FROM jobs WHERE name = 'outbox-relay'")
    op.drop_table("webhooks")
    op.drop_table("outbox")
