"""Scale-out: rate-limit windows in the database (shared by every API process), the record of
the job queue's own schema (Procrastinate's, applied on PostgreSQL by `ensure_schema`), and the
FASHN predictions' kept base64 inputs (a worker in another process runs them).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_limit_hits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("rate_limit_hits_user_id_fkey"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("rate_limit_hits_pkey")),
    )
    op.create_index(
        op.f("ix_rate_limit_hits_user_id"), "rate_limit_hits", ["user_id"], unique=False
    )
    with op.batch_alter_table("fashn_predictions") as batch:
        batch.add_column(sa.Column("input_keys", sa.JSON(), nullable=True))
    op.create_table(
        "queue_schema",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("applied", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("queue_schema_pkey")),
    )


def downgrade() -> None:
    op.drop_table("queue_schema")
    with op.batch_alter_table("fashn_predictions") as batch:
        batch.drop_column("input_keys")
    op.drop_index(op.f("ix_rate_limit_hits_user_id"), table_name="rate_limit_hits")
    op.drop_table("rate_limit_hits")
