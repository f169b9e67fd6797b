"""`POST /upload`: a signed PUT URL for one image (spec §2.1, §2.2)."""

from __future__ import annotations

from pydantic import Field

from vestis.contract.common import PrintableText, RequestModel, WireModel

#: Uploads larger than this are refused (bytes), and so are images with more pixels.
MAX_UPLOAD_BYTES = 40 * 1024 * 1024
MAX_IMAGE_PIXELS = 60_000_000
UPLOAD_URL_TTL_SECONDS = 15 * 60


class UploadRequest(RequestModel):
    filename: str | None = Field(default=None, max_length=255)
    project_name: PrintableText | None = Field(default=None, max_length=128)


class UploadResponse(WireModel):
    upload_url: str
    download_url: str
    project_id: str | None = None
    project_name: str | None = None
    file_id: str
    filename: str
    content_type: str
