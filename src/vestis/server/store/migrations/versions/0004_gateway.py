"""Gateway: which engine of the chain made each output, its upstream job or prediction and what
it cost there, the share of pixels the garment lock kept; engines' checkpoints per job and their
memo (remote identity codes per upstream account); the same upstream facts for FASHN
predictions.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "engine_memos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("engine_memos_pkey")),
        sa.UniqueConstraint("key", name=op.f("engine_memos_key_key")),
    )
    with op.batch_alter_table("fashn_predictions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("engine", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("upstream_credits", sa.Float(), nullable=True))
    with op.batch_alter_table("job_outputs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("engine", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("upstream_id", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("upstream_credits", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("garment_locked_share", sa.Float(), nullable=True))
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("engine_state", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("engine_state")
    with op.batch_alter_table("job_outputs", schema=None) as batch_op:
        batch_op.drop_column("garment_locked_share")
        batch_op.drop_column("upstream_credits")
        batch_op.drop_column("upstream_id")
        batch_op.drop_column("engine")
    with op.batch_alter_table("fashn_predictions", schema=None) as batch_op:
        batch_op.drop_column("upstream_credits")
        batch_op.drop_column("engine")
    op.drop_table("engine_memos")
