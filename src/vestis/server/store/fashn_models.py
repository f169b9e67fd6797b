"""The table of FASHN predictions (`/v1/run`). Registered on the server's declarative base, so
the migrations make it (their `env` imports this module).

Image inputs given as data URIs are never written here (stored as `<base64>`, as FASHN does);
while a prediction runs they are kept as blobs (`input_keys`), and base64 outputs are kept as
blobs for an hour (see `vestis.server.fashn.service`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from vestis.server.store.db import Base
from vestis.server.store.models import utcnow


class FashnPrediction(Base):
    __tablename__ = "fashn_predictions"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    model_name: Mapped[str] = mapped_column(String(64))
    #: starting | in_queue | processing | completed | failed
    status: Mapped[str] = mapped_column(String(16), default="starting", index=True)
    #: The inputs with every data URI replaced by "<base64>".
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON)
    num_images: Mapped[int] = mapped_column(Integer)
    output_format: Mapped[str] = mapped_column(String(8))
    return_base64: Mapped[bool] = mapped_column(Boolean, default=False)
    webhook_url: Mapped[str | None] = mapped_column(String(2048), default=None)
    #: Blob keys of the outputs, in order (base64 mode: kept BASE64_TTL_SECONDS).
    output_keys: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: Blob keys of the data-URI inputs by field, kept while the prediction runs (a worker in
    #: another process needs them), deleted when it ends.
    input_keys: Mapped[dict[str, str] | None] = mapped_column(JSON, default=dict)
    #: Times a worker started it (one cut short is run again, up to `max_job_attempts`).
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    error_name: Mapped[str | None] = mapped_column(String(64), default=None)
    error_message: Mapped[str | None] = mapped_column(Text, default=None)
    credits_reserved: Mapped[float] = mapped_column(Float, default=0)
    credits_used: Mapped[float] = mapped_column(Float, default=0)
    #: The engine that made it, and what it cost upstream (a gateway's remote engines).
    engine: Mapped[str | None] = mapped_column(String(32), default=None)
    upstream_credits: Mapped[float | None] = mapped_column(Float, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
