"""Jobs without an identity: packshots and garment recolours (`POST /create-packshot`,
`POST /garment-recolor`) show only the garment, so `jobs.identity_id` may be null.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.alter_column("identity_id", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    # jobs without an identity cannot be kept in the older schema
    op.execute(
        "DELETE FROM job_outputs WHERE job_id IN (SELECT id FROM jobs WHERE identity_id IS NULL)"
    )
    op.execute("DELETE FROM jobs WHERE identity_id IS NULL")
    with op.batch_alter_table("jobs") as batch:
        batch.alter_column("identity_id", existing_type=sa.Integer(), nullable=False)
