"""FASHN predictions count the times a worker started them: one cut short (its worker stopped or
died) is run again by the next worker, up to `max_job_attempts` times, like v2 outputs.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("fashn_predictions") as batch:
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("fashn_predictions") as batch:
        batch.drop_column("attempts")
