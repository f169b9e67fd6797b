"""The tables. Public ids (project keys, file ids, identity codes, job ids) are random strings;
integer primary keys never leave the server except where the spec shows them (`project_id` in
job status)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from vestis.server.store.db import Base


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(128), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(255), default=None)
    credits: Mapped[float] = mapped_column(Float, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_active: Mapped[datetime | None] = mapped_column(DateTime, default=None)


class Token(Base):
    """Login (access), refresh and long-lived API tokens; only the SHA-256 of each is stored."""

    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # access | refresh | api | session | ticket
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    #: The token that made this one with `POST /auth/token` (revoking it revokes this one).
    parent_id: Mapped[int | None] = mapped_column(Integer, default=None, index=True)

    user: Mapped[User] = relationship(lazy="joined")


class Project(Base):
    __tablename__ = "projects"
    __table_args__ = (UniqueConstraint("user_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class File(Base):
    """An uploaded image. `filename` is the client's name (metadata only, never a path)."""

    __tablename__ = "files"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"), default=None)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(64))
    blob_key: Mapped[str | None] = mapped_column(String(255), default=None)
    image_format: Mapped[str | None] = mapped_column(String(16), default=None)
    width: Mapped[int | None] = mapped_column(Integer, default=None)
    height: Mapped[int | None] = mapped_column(Integer, default=None)
    size_bytes: Mapped[int | None] = mapped_column(Integer, default=None)
    uploaded: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Identity(Base):
    __tablename__ = "identities"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    original_filename: Mapped[str | None] = mapped_column(String(255), default=None)
    content_sha256: Mapped[str] = mapped_column(String(64), index=True)
    blob_key: Mapped[str] = mapped_column(String(255))
    face_detected: Mapped[bool] = mapped_column(Boolean, default=False)
    face_metadata: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    description: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: What the photo shows that swaps carry over (quality.identity_photo), checked at upload.
    photo_check: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    preprocessing_status: Mapped[str] = mapped_column(String(16), default="pending")
    error_message: Mapped[str | None] = mapped_column(Text, default=None)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    photos: Mapped[list[IdentityPhoto]] = relationship(
        back_populates="identity",
        order_by="[IdentityPhoto.position, IdentityPhoto.id]",
        lazy="select",
        cascade="all, delete-orphan",
    )


class IdentityPhoto(Base):
    """One photo of an identity (vestis extension). The first (lowest `position`) is the one the
    identity's own columns (`blob_key`, `photo_check`, ...) describe, the photo of the upload;
    a model swap uses, per target photo, the photo that fits it best (quality.identity_choice)."""

    __tablename__ = "identity_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(64), unique=True)
    identity_id: Mapped[int] = mapped_column(
        ForeignKey("identities.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    original_filename: Mapped[str | None] = mapped_column(String(255), default=None)
    content_sha256: Mapped[str] = mapped_column(String(64))
    blob_key: Mapped[str] = mapped_column(String(255))
    face_detected: Mapped[bool] = mapped_column(Boolean, default=False)
    face_metadata: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: quality.identity_photo's check of this photo, as for the identity.
    photo_check: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    #: Its face's traits (quality.face_traits), what the choice per target compares; None:
    #: not measured yet (a photo from before 0013), measured when first needed.
    face_traits: Mapped[dict[str, float] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    identity: Mapped[Identity] = relationship(back_populates="photos")


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    #: None for jobs that show no person (packshots, garment recolours).
    identity_id: Mapped[int | None] = mapped_column(ForeignKey("identities.id"), nullable=True)
    job_type: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    total_outputs: Mapped[int] = mapped_column(Integer)
    processed: Mapped[int] = mapped_column(Integer, default=0)
    error_message: Mapped[str | None] = mapped_column(Text, default=None)
    credits_charged: Mapped[float] = mapped_column(Float, default=0)
    credits_refunded: Mapped[float] = mapped_column(Float, default=0)
    #: Checkpoints of the engines that work on the whole job (remote job ids, idempotency keys),
    #: by engine name: what a restarted server needs to follow the same upstream work.
    engine_state: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    project: Mapped[Project] = relationship(lazy="joined")
    identity: Mapped[Identity | None] = relationship(lazy="joined")
    outputs: Mapped[list[JobOutput]] = relationship(
        back_populates="job", order_by="[JobOutput.position, JobOutput.version]", lazy="select"
    )


class JobOutput(Base):
    """One output image of a job (one input x variation, or one instruction x variation)."""

    __tablename__ = "job_outputs"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(64), unique=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    image_index: Mapped[int] = mapped_column(Integer)
    group_index: Mapped[int] = mapped_column(Integer, default=0)
    variation: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=0)
    original_filename: Mapped[str] = mapped_column(String(255))
    output_format: Mapped[str] = mapped_column(String(8))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    price: Mapped[float] = mapped_column(Float, default=0)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    #: Times a worker claimed this output; also fences its result (see pipeline.records).
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    blob_key: Mapped[str | None] = mapped_column(String(255), default=None)
    thumb_key: Mapped[str | None] = mapped_column(String(255), default=None)
    model_used: Mapped[str | None] = mapped_column(String(64), default=None)
    quality_score: Mapped[float | None] = mapped_column(Float, default=None)
    processing_time: Mapped[float | None] = mapped_column(Float, default=None)
    warnings: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: The engine of the chain that made the output, the upstream job or prediction, what it
    #: cost upstream, and the share of its pixels the garment lock kept from the input.
    engine: Mapped[str | None] = mapped_column(String(32), default=None)
    upstream_id: Mapped[str | None] = mapped_column(String(128), default=None)
    upstream_credits: Mapped[float | None] = mapped_column(Float, default=None)
    garment_locked_share: Mapped[float | None] = mapped_column(Float, default=None)
    error_message: Mapped[str | None] = mapped_column(Text, default=None)
    #: Review: `like` (approved) / `dislike` (rejected) / None (not reviewed), with a note.
    feedback: Mapped[str | None] = mapped_column(String(16), default=None)
    feedback_comment: Mapped[str | None] = mapped_column(Text, default=None)
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    #: What vestis.quality measured (the result's `metrics`), and the output face's embedding
    #: (128 numbers, never sent) from which the job's consistency figure is made.
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    face_embedding: Mapped[list[float] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    job: Mapped[Job] = relationship(back_populates="outputs")


class IdempotencyRecord(Base):
    """The first answer to a job creation with an `Idempotency-Key`, replayed for the same
    request (see `services/idempotency.py`)."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    #: "POST /model-swap"; the job type in records older than migration 0006.
    endpoint: Mapped[str] = mapped_column(String(64))
    #: SHA-256 of the validated request body (None in records older than migration 0006).
    request_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class LoginFailure(Base):
    """One wrong password, counted in the moving windows of its user name and of its client
    address (`login_guard.py`); in the database so every API process sees it and a restart
    does not forget it. Not a foreign key: unknown user names count the same."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_scope_key", "scope", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: "user" or "address"
    scope: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(255))
    #: Unix time of the attempt.
    at: Mapped[float] = mapped_column(Float)


class RateLimitHit(Base):
    """One counted request of a rate-limited kind (`scope`), for the moving window that every API
    process shares."""

    __tablename__ = "rate_limit_hits"

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: Unix time of the request.
    at: Mapped[float] = mapped_column(Float)


class QueueSchema(Base):
    """The version of an outside schema vestis applies itself (Procrastinate's, on PostgreSQL):
    the name of the last migration file applied."""

    __tablename__ = "queue_schema"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    applied: Mapped[str] = mapped_column(String(255))


class NotificationRow(Base):
    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    task_id: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    timestamp: Mapped[float] = mapped_column(Float)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)


class Webhook(Base):
    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    url: Mapped[str] = mapped_column(String(2048))
    secret: Mapped[str] = mapped_column(String(128))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_response_status: Mapped[int | None] = mapped_column(Integer, default=None)
    last_response_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)


class DownloadToken(Base):
    __tablename__ = "download_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    job_ids: Mapped[list[str]] = mapped_column(JSON)
    #: Only outputs approved in review (feedback `like`).
    approved_only: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ServerSecret(Base):
    """The HMAC key of signed URLs, kept in the database so links survive restarts."""

    __tablename__ = "server_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(255))


class EngineMemo(Base):
    """What an engine remembers across jobs, e.g. the identity code an upstream account gave an
    identity image (`key` is namespaced by engine and account fingerprint)."""

    __tablename__ = "engine_memos"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    value: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
