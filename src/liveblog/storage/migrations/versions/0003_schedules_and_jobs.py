"""Scheduled entries and once-per-period jobs.

`entries.scheduled_at` holds when a scheduled entry goes public; the (status, scheduled_at) index
lets every node's scheduler find due entries without scanning. `jobs` holds one row per periodic
job: a node runs the job only if it moves the row's `next_run_at` forward itself, so each period's
run happens on exactly one node.

Revision ID: 0003
Revises: 0002
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("entries", sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_entries_due", "entries", ["status", "scheduled_at"])
    jobs = op.create_table(
        "jobs",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_node", sa.String(128), nullable=True),
    )
    op.bulk_insert(jobs, [{"name": "retention", "next_run_at": datetime(2000, 1, 1, tzinfo=UTC)}])


def downgrade() -> None:
    op.drop_table("jobs")
    op.drop_index("ix_entries_due", "entries")
    op.drop_column("entries", "scheduled_at")
