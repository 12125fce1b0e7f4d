"""Who has a blog's desk open, and which entry each is editing.

One row per open desk page (a random tab id), refreshed by the page every few seconds; rows not
refreshed for a while count as gone. Kept in the database so every node sees every editor.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "desk_presence",
        sa.Column("blog_id", sa.Integer, sa.ForeignKey("blogs.id"), primary_key=True),
        sa.Column("tab", sa.String(32), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("editing_entry_id", sa.Integer, nullable=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("desk_presence")
