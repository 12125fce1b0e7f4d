"""Pictures: uploaded media and their renditions, entries' media lists, blog covers, and the
record of withdrawn pictures.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "media",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("blog_id", sa.Integer, sa.ForeignKey("blogs.id"), nullable=False),
        sa.Column("alt", sa.Text, nullable=False),
        sa.Column("caption", sa.Text, nullable=False, server_default=""),
        sa.Column("credit", sa.Text, nullable=False, server_default=""),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_by", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_media_blog", "media", ["blog_id", "id"])
    op.create_table(
        "media_files",
        sa.Column("media_id", sa.Integer, sa.ForeignKey("media.id"), primary_key=True),
        sa.Column("key", sa.String(80), primary_key=True),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("media_type", sa.String(32), nullable=False),
        sa.Column("bytes", sa.Integer, nullable=False),
    )
    op.create_index("ix_media_files_key", "media_files", ["key"])
    op.create_table(
        "entry_media",
        sa.Column("entry_id", sa.Integer, sa.ForeignKey("entries.id"), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("media_id", sa.Integer, sa.ForeignKey("media.id"), nullable=False),
    )
    op.create_index("ix_entry_media_media", "entry_media", ["media_id"])
    op.create_table(
        "media_withdrawals",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("blog_id", sa.Integer, sa.ForeignKey("blogs.id"), nullable=False),
        sa.Column("entry_id", sa.Integer, nullable=True),
        sa.Column("media_id", sa.Integer, sa.ForeignKey("media.id"), nullable=False),
        sa.Column("urls", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_media_withdrawals_entry", "media_withdrawals", ["blog_id", "entry_id"])
    op.add_column("entries", sa.Column("media", sa.Text, nullable=False, server_default="[]"))
    op.add_column(
        "entry_revisions", sa.Column("media", sa.Text, nullable=False, server_default="[]")
    )
    op.add_column("blogs", sa.Column("cover_id", sa.Integer, nullable=True))
    op.add_column("blogs", sa.Column("cover", sa.Text, nullable=True))


def downgrade() -> None:
    op.drop_column("blogs", "cover")
    op.drop_column("blogs", "cover_id")
    op.drop_column("entry_revisions", "media")
    op.drop_column("entries", "media")
    op.drop_table("media_withdrawals")
    op.drop_table("entry_media")
    op.drop_table("media_files")
    op.drop_table("media")
