"""The audit log: who did what to which blog or entry, and when.

One row per action, written in the transaction of the change. Read newest first, for one blog
through the (blog_id, id) index or for the whole newsroom by the primary key.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer, nullable=True),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("blog_id", sa.Integer, nullable=True),
        sa.Column("entry_id", sa.Integer, nullable=True),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("ix_audit_log_blog", "audit_log", ["blog_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_blog", "audit_log")
    op.drop_table("audit_log")
