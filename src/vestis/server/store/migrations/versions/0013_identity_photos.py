"""An identity holds several photos (`identity_photos`): each with its own photo check and face
traits; a model swap uses, per target photo, the one that fits it best. Every identity's own
photo becomes its first photo (position 0), check and all.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    photos = op.create_table(
        "identity_photos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=64), nullable=False),
        sa.Column("identity_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("original_filename", sa.String(length=255), nullable=True),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("blob_key", sa.String(length=255), nullable=False),
        sa.Column("face_detected", sa.Boolean(), nullable=False),
        sa.Column("face_metadata", sa.JSON(), nullable=False),
        sa.Column("photo_check", sa.JSON(), nullable=True),
        sa.Column("face_traits", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["identity_id"],
            ["identities.id"],
            name=op.f("identity_photos_identity_id_fkey"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("identity_photos_pkey")),
        sa.UniqueConstraint("public_id", name=op.f("identity_photos_public_id_key")),
    )
    with op.batch_alter_table("identity_photos", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_photos_identity_id"), ["identity_id"], unique=False
        )
    identities = sa.table(
        "identities",
        sa.column("id", sa.Integer()),
        sa.column("original_filename", sa.String()),
        sa.column("content_sha256", sa.String()),
        sa.column("blob_key", sa.String()),
        sa.column("face_detected", sa.Boolean()),
        sa.column("face_metadata", sa.JSON()),
        sa.column("photo_check", sa.JSON()),
        sa.column("created_at", sa.DateTime()),
    )
    rows = op.get_bind().execute(sa.select(identities).order_by(identities.c.id)).mappings()
    first = [
        {
            "public_id": f"photo_{secrets.token_hex(16)}",
            "identity_id": row["id"],
            "position": 0,
            "original_filename": row["original_filename"],
            "content_sha256": row["content_sha256"],
            "blob_key": row["blob_key"],
            "face_detected": bool(row["face_detected"]),
            "face_metadata": row["face_metadata"] or {},
            "photo_check": row["photo_check"],
            "face_traits": None,  # measured when a swap first chooses between photos
            "created_at": row["created_at"] or datetime.now(UTC).replace(tzinfo=None),
        }
        for row in rows
    ]
    if first:
        op.bulk_insert(photos, first)


def downgrade() -> None:
    # the identity's own columns still describe its first photo; the others are dropped
    with op.batch_alter_table("identity_photos", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_photos_identity_id"))
    op.drop_table("identity_photos")
