"""Output metrics: what vestis.quality measured on each output, and its face embedding (for the
job's consistency figure).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 18:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # outputs made before were not measured: both stay null
    with op.batch_alter_table("job_outputs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("metrics", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("face_embedding", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("job_outputs", schema=None) as batch_op:
        batch_op.drop_column("face_embedding")
        batch_op.drop_column("metrics")
