"""`POST /download`, `POST /download/bulk`, and fetching signed links (spec §2.10)."""

from __future__ import annotations

from vestis.client.resources._resource import AsyncAPIResource, SyncAPIResource
from vestis.contract import DownloadResponse


def _body(job_id: str, approved_only: bool) -> dict[str, object]:
    body: dict[str, object] = {"job_id": job_id}
    if approved_only:  # vestis extension; the hosted API is sent only what it knows
        body["approved_only"] = True
    return body


class Downloads(SyncAPIResource):
    def create(self, job_id: str, *, approved_only: bool = False) -> DownloadResponse:
        """A temporary link to a ZIP of the job's results (only the approved ones with
        `approved_only`, a vestis extension)."""
        response = self._call("POST", "/download", json=_body(job_id, approved_only))
        return DownloadResponse.model_validate(response.json())

    def bulk(self, job_ids: list[str]) -> DownloadResponse:
        """A temporary link to one ZIP of several jobs' results (at most 100 images)."""
        response = self._call("POST", "/download/bulk", json={"job_ids": list(job_ids)})
        return DownloadResponse.model_validate(response.json())

    def fetch(self, url: str) -> bytes:
        """The bytes behind a signed link (output images, ZIPs), fetched without auth."""
        return self._call("GET", url, authenticated=False).content


class AsyncDownloads(AsyncAPIResource):
    async def create(self, job_id: str, *, approved_only: bool = False) -> DownloadResponse:
        """A temporary link to a ZIP of the job's results (see `Downloads.create`)."""
        response = await self._call("POST", "/download", json=_body(job_id, approved_only))
        return DownloadResponse.model_validate(response.json())

    async def bulk(self, job_ids: list[str]) -> DownloadResponse:
        """A temporary link to one ZIP of several jobs' results (at most 100 images)."""
        response = await self._call("POST", "/download/bulk", json={"job_ids": list(job_ids)})
        return DownloadResponse.model_validate(response.json())

    async def fetch(self, url: str) -> bytes:
        """The bytes behind a signed link (output images, ZIPs), fetched without auth."""
        return (await self._call("GET", url, authenticated=False)).content
