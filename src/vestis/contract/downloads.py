"""Bulk download of a job's results as a ZIP (spec §2.10)."""

from __future__ import annotations

from pydantic import Field

from vestis.contract.common import RequestModel, WireModel

MAX_BULK_IMAGES = 100
DOWNLOAD_TTL_SECONDS = 3600


class DownloadRequest(RequestModel):
    job_id: str
    #: vestis extension: only the outputs whose feedback is `like` (approved in review).
    approved_only: bool = False


class BulkDownloadRequest(RequestModel):
    job_ids: list[str] = Field(min_length=1)
    #: vestis extension, as in DownloadRequest.
    approved_only: bool = False


class DownloadResponse(WireModel):
    download_url: str
    expires: str
