"""Failed password logins in the database (`login_failures`): the throttle of every way to sign
in is shared by all API processes and survives a restart.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("login_failures_pkey")),
    )
    op.create_index("ix_login_failures_scope_key", "login_failures", ["scope", "key"])


def downgrade() -> None:
    op.drop_index("ix_login_failures_scope_key", table_name="login_failures")
    op.drop_table("login_failures")
