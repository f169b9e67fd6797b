"""Review: each output's feedback (like/dislike), note and review time; ZIP links that hold only
approved outputs.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 17:28:12.016339
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("download_tokens", schema=None) as batch_op:
        # existing links were for every output
        batch_op.add_column(
            sa.Column("approved_only", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("job_outputs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("feedback", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("feedback_comment", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("reviewed_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("job_outputs", schema=None) as batch_op:
        batch_op.drop_column("reviewed_at")
        batch_op.drop_column("feedback_comment")
        batch_op.drop_column("feedback")
    with op.batch_alter_table("download_tokens", schema=None) as batch_op:
        batch_op.drop_column("approved_only")
