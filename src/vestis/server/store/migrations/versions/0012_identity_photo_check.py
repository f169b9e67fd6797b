"""Identities keep what their photo showed when it was uploaded (faces, glasses, facial hair,
open mouth, lip colour, head pose, face size, light): `photo_check`, shown on GET /identity.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("identities") as batch:
        batch.add_column(sa.Column("photo_check", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("identities") as batch:
        batch.drop_column("photo_check")
