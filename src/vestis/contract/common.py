"""Shapes every part of the API shares: pagination and the error body."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class WireModel(BaseModel):
    """Base of every wire model: unknown fields are kept, so newer servers do not break clients."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class RequestModel(BaseModel):
    """Base of request bodies: unknown fields are ignored, as the hosted API does."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class Pagination(WireModel):
    page: int
    per_page: int
    total: int
    pages: int
    has_next: bool
    has_prev: bool


class ErrorDetail(WireModel):
    field: str | None = None
    message: str
    position: str | None = None


class ErrorBody(WireModel):
    """`{"error": "Invalid request", "detail": [{field, message, position}]}` (spec §1)."""

    error: str
    detail: list[ErrorDetail] = []
