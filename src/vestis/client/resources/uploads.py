"""`POST /upload` and the signed PUT (spec §2.1, §2.2)."""

from __future__ import annotations

from pathlib import Path

from vestis.client._base import UPLOAD_TIMEOUT, rewrite_upload_url
from vestis.client.resources._resource import AsyncAPIResource, SyncAPIResource
from vestis.contract import UploadResponse


def _upload_body(filename: str | None, project_name: str | None) -> dict[str, str]:
    body: dict[str, str] = {}
    if filename:
        body["filename"] = filename
    if project_name:
        body["project_name"] = project_name
    return body


class Uploads(SyncAPIResource):
    def create(
        self, filename: str | None = None, *, project_name: str | None = None
    ) -> UploadResponse:
        """A signed upload URL and the `file_id` the image will have."""
        response = self._call("POST", "/upload", json=_upload_body(filename, project_name))
        return UploadResponse.model_validate(response.json())

    def put(self, upload: UploadResponse, data: bytes) -> None:
        """PUT the bytes to the signed URL: only Content-Type, no Authorization header."""
        url = rewrite_upload_url(self._http.base_url, upload.upload_url)
        self._call(
            "PUT",
            url,
            content=data,
            headers={"Content-Type": upload.content_type},
            authenticated=False,
            timeout=UPLOAD_TIMEOUT,
        )

    def upload_file(self, path: str | Path, *, project_name: str | None = None) -> str:
        """Upload one image file; return its `file_id`."""
        file = Path(path)
        return self.upload_bytes(file.read_bytes(), file.name, project_name=project_name)

    def upload_bytes(self, data: bytes, filename: str, *, project_name: str | None = None) -> str:
        """Upload image bytes under `filename`; return the `file_id`."""
        upload = self.create(filename, project_name=project_name)
        self.put(upload, data)
        return upload.file_id


class AsyncUploads(AsyncAPIResource):
    async def create(
        self, filename: str | None = None, *, project_name: str | None = None
    ) -> UploadResponse:
        """A signed upload URL and the `file_id` the image will have."""
        response = await self._call("POST", "/upload", json=_upload_body(filename, project_name))
        return UploadResponse.model_validate(response.json())

    async def put(self, upload: UploadResponse, data: bytes) -> None:
        """PUT the bytes to the signed URL: only Content-Type, no Authorization header."""
        url = rewrite_upload_url(self._http.base_url, upload.upload_url)
        await self._call(
            "PUT",
            url,
            content=data,
            headers={"Content-Type": upload.content_type},
            authenticated=False,
            timeout=UPLOAD_TIMEOUT,
        )

    async def upload_file(self, path: str | Path, *, project_name: str | None = None) -> str:
        """Upload one image file; return its `file_id`."""
        file = Path(path)
        return await self.upload_bytes(file.read_bytes(), file.name, project_name=project_name)

    async def upload_bytes(
        self, data: bytes, filename: str, *, project_name: str | None = None
    ) -> str:
        """Upload image bytes under `filename`; return the `file_id`."""
        upload = await self.create(filename, project_name=project_name)
        await self.put(upload, data)
        return upload.file_id
