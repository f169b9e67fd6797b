"""Shapes every part of the API shares: pagination and the error body."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

#: Pages beyond this are refused (422): page x per_page must stay a 32-bit offset.
MAX_PAGE = 10_000_000
#: Numeric ids in paths are 32-bit database keys; larger numbers cannot name anything.
MAX_NUMERIC_ID = 2**31 - 1

#: A name a person types: no control characters (NUL, newlines, ...), which some databases
#: refuse and no display shows.
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
PrintableText = Annotated[str, StringConstraints(pattern=PRINTABLE)]


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
