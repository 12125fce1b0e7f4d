"""An editor's note to a contributor when sending a submission back.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("entries", sa.Column("review_note", sa.Text, nullable=True))


def downgrade() -> None:
    op.drop_column("entries", "review_note")
