"""Identity endpoints (spec §2.5)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vestis.client._base import image_content_type
from vestis.client.errors import ConflictError, VestisError
from vestis.client.resources._resource import AsyncAPIResource, SyncAPIResource
from vestis.contract import (
    IdentityInfo,
    IdentityListResponse,
    IdentityMetadataResponse,
    IdentityPhotoAdded,
    IdentityPhotoList,
    IdentityStatusResponse,
    IdentityUploadResponse,
)
from vestis.contract.products import (
    IdentityCreateRequest,
    IdentityCreateResponse,
    PresetExtractResponse,
    PromoteGeneratedResponse,
)

#: The scripts give the identity upload 30 seconds.
IDENTITY_UPLOAD_TIMEOUT = 30.0


def _upload_parts(
    path: str | Path | bytes, name: str | None, tag: str | None, filename: str | None = None
) -> tuple[dict[str, tuple[str, bytes, str]], dict[str, str]]:
    """Multipart `image` (bytes read once, so retries resend them) and `name` (default: the
    file stem, as the scripts send it). `path` may be the image bytes, named by `filename`."""
    if isinstance(path, bytes):
        file_name, content = filename or "identity.jpg", path
    else:
        file_name, content = Path(path).name, Path(path).read_bytes()
    files = {"image": (file_name, content, image_content_type(file_name))}
    data = {"name": name if name is not None else Path(file_name).stem}
    if tag:
        data["tag"] = tag
    return files, data


def _photo_part(
    path: str | Path | bytes, filename: str | None
) -> dict[str, tuple[str, bytes, str]]:
    files, _ = _upload_parts(path, None, None, filename)
    return files


def _code_from_conflict(error: ConflictError) -> str:
    body = error.body
    if isinstance(body, dict):
        code = body.get("existing_identity_code") or body.get("identity_code")
        if code:
            return str(code)
    raise VestisError(f"The identity exists, but the 409 body names no code: {error.message}")


def _list_params(
    page: int, per_page: int, search: str | None, sort_by: str, order: str, extra: dict[str, Any]
) -> dict[str, Any]:
    params = {"page": page, "per_page": per_page, "search": search, "sort_by": sort_by}
    params["order"] = order
    return {**params, **extra}


def _metadata(tag: str | None, gender: str | None, age: int | None) -> dict[str, Any]:
    return {k: v for k, v in {"tag": tag, "gender": gender, "age": age}.items() if v is not None}


def _brief(brief: IdentityCreateRequest | dict[str, Any]) -> dict[str, Any]:
    parsed = brief if isinstance(brief, IdentityCreateRequest) else IdentityCreateRequest(**brief)
    return parsed.model_dump(mode="json", exclude_none=True)


def _promotion(image_result_id: str, name: str | None) -> dict[str, Any]:
    return {"image_result_id": image_result_id, **({"name": name} if name else {})}


def _promoted(error: ConflictError) -> PromoteGeneratedResponse:
    """A 409 names the identity the draft already is."""
    body = error.body if isinstance(error.body, dict) else {}
    if not body.get("identity_code"):
        raise error
    return PromoteGeneratedResponse(identity_code=str(body["identity_code"]))


class Identities(SyncAPIResource):
    def get(self, code: str) -> IdentityInfo:
        return IdentityInfo.model_validate(self._call("GET", f"/identity/{code}").json())

    def list(
        self,
        page: int = 1,
        per_page: int = 20,
        search: str | None = None,
        sort_by: str = "created_at",
        order: str = "desc",
        **filters: Any,
    ) -> IdentityListResponse:
        """One page of identities; `filters` are passed as query parameters (e.g. ownership)."""
        params = _list_params(page, per_page, search, sort_by, order, filters)
        return IdentityListResponse.model_validate(
            self._call("GET", "/identity", params=params).json()
        )

    def upload(
        self,
        path: str | Path | bytes,
        name: str | None = None,
        *,
        tag: str | None = None,
        filename: str | None = None,
    ) -> IdentityUploadResponse:
        """Upload a face image (a path, or bytes named by `filename`) as an identity. An image
        uploaded before raises ConflictError with `.body["existing_identity_code"]`."""
        files, data = _upload_parts(path, name, tag, filename)
        response = self._call(
            "POST", "/identity/upload", files=files, data=data, timeout=IDENTITY_UPLOAD_TIMEOUT
        )
        return IdentityUploadResponse.model_validate(response.json())

    def ensure(
        self, path: str | Path | bytes, name: str | None = None, *, filename: str | None = None
    ) -> str:
        """The identity code of this image: uploaded now, or the existing one on 409."""
        try:
            return self.upload(path, name, filename=filename).identity_code
        except ConflictError as exc:
            return _code_from_conflict(exc)

    def update_metadata(
        self,
        code: str,
        *,
        tag: str | None = None,
        gender: str | None = None,
        age: int | None = None,
    ) -> IdentityMetadataResponse:
        response = self._call(
            "PATCH", f"/identity/{code}/metadata", json=_metadata(tag, gender, age)
        )
        return IdentityMetadataResponse.model_validate(response.json())

    def status(self, code: str) -> IdentityStatusResponse:
        response = self._call("GET", f"/identity/{code}/status")
        return IdentityStatusResponse.model_validate(response.json())

    def delete(self, code: str) -> None:
        self._call("DELETE", f"/identity/{code}")

    def add_photo(
        self, code: str, path: str | Path | bytes, *, filename: str | None = None
    ) -> IdentityPhotoAdded:
        """Add another photo of the identity's person (vestis extension, no credits). A model
        swap uses, per target photo, the photo that fits it best (expression, head pose). The
        same image twice raises ConflictError; a photo with no face or several, ApiError 422."""
        response = self._call(
            "POST",
            f"/identity/{code}/photos",
            files=_photo_part(path, filename),
            timeout=IDENTITY_UPLOAD_TIMEOUT,
        )
        return IdentityPhotoAdded.model_validate(response.json())

    def photos(self, code: str) -> IdentityPhotoList:
        """The identity's photos, the first first, each with its check (vestis extension)."""
        return IdentityPhotoList.model_validate(
            self._call("GET", f"/identity/{code}/photos").json()
        )

    def remove_photo(self, code: str, photo_id: str) -> None:
        """Remove one photo; the last one cannot be removed (ConflictError)."""
        self._call("DELETE", f"/identity/{code}/photos/{photo_id}")

    def create(
        self, brief: IdentityCreateRequest | dict[str, Any], *, idempotency_key: str | None = None
    ) -> IdentityCreateResponse:
        """Draft identities from a brief (`POST /identity/create`, 202): a job whose results
        are the drafts; `promote` one of them. The same `idempotency_key` again answers with
        the same job (vestis)."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        response = self._call("POST", "/identity/create", json=_brief(brief), headers=headers)
        return IdentityCreateResponse.model_validate(response.json())

    def promote(self, image_result_id: str, name: str | None = None) -> PromoteGeneratedResponse:
        """Make a generated image (a result's `output_id` / `image_result_id`) an identity; one
        promoted before answers with its identity (no `preprocessing_job_id`)."""
        try:
            response = self._call(
                "POST", "/identity/promote-generated", json=_promotion(image_result_id, name)
            )
        except ConflictError as exc:
            return _promoted(exc)
        return PromoteGeneratedResponse.model_validate(response.json())

    def extract_preset(self, file_id: str) -> PresetExtractResponse:
        """A brief's attributes read from an uploaded photo of a person."""
        body = {"file_id": file_id, "type": "identity_creation"}
        response = self._call("POST", "/preset/extract-from-image", json=body)
        return PresetExtractResponse.model_validate(response.json())


class AsyncIdentities(AsyncAPIResource):
    async def get(self, code: str) -> IdentityInfo:
        return IdentityInfo.model_validate((await self._call("GET", f"/identity/{code}")).json())

    async def list(
        self,
        page: int = 1,
        per_page: int = 20,
        search: str | None = None,
        sort_by: str = "created_at",
        order: str = "desc",
        **filters: Any,
    ) -> IdentityListResponse:
        """One page of identities; `filters` are passed as query parameters (e.g. ownership)."""
        params = _list_params(page, per_page, search, sort_by, order, filters)
        response = await self._call("GET", "/identity", params=params)
        return IdentityListResponse.model_validate(response.json())

    async def upload(
        self,
        path: str | Path | bytes,
        name: str | None = None,
        *,
        tag: str | None = None,
        filename: str | None = None,
    ) -> IdentityUploadResponse:
        """Upload a face image (a path, or bytes named by `filename`) as an identity. An image
        uploaded before raises ConflictError with `.body["existing_identity_code"]`."""
        files, data = _upload_parts(path, name, tag, filename)
        response = await self._call(
            "POST", "/identity/upload", files=files, data=data, timeout=IDENTITY_UPLOAD_TIMEOUT
        )
        return IdentityUploadResponse.model_validate(response.json())

    async def ensure(
        self, path: str | Path | bytes, name: str | None = None, *, filename: str | None = None
    ) -> str:
        """The identity code of this image: uploaded now, or the existing one on 409."""
        try:
            return (await self.upload(path, name, filename=filename)).identity_code
        except ConflictError as exc:
            return _code_from_conflict(exc)

    async def update_metadata(
        self,
        code: str,
        *,
        tag: str | None = None,
        gender: str | None = None,
        age: int | None = None,
    ) -> IdentityMetadataResponse:
        body = _metadata(tag, gender, age)
        response = await self._call("PATCH", f"/identity/{code}/metadata", json=body)
        return IdentityMetadataResponse.model_validate(response.json())

    async def status(self, code: str) -> IdentityStatusResponse:
        response = await self._call("GET", f"/identity/{code}/status")
        return IdentityStatusResponse.model_validate(response.json())

    async def delete(self, code: str) -> None:
        await self._call("DELETE", f"/identity/{code}")

    async def add_photo(
        self, code: str, path: str | Path | bytes, *, filename: str | None = None
    ) -> IdentityPhotoAdded:
        """Add another photo of the identity's person (see `Identities.add_photo`)."""
        response = await self._call(
            "POST",
            f"/identity/{code}/photos",
            files=_photo_part(path, filename),
            timeout=IDENTITY_UPLOAD_TIMEOUT,
        )
        return IdentityPhotoAdded.model_validate(response.json())

    async def photos(self, code: str) -> IdentityPhotoList:
        response = await self._call("GET", f"/identity/{code}/photos")
        return IdentityPhotoList.model_validate(response.json())

    async def remove_photo(self, code: str, photo_id: str) -> None:
        await self._call("DELETE", f"/identity/{code}/photos/{photo_id}")

    async def create(
        self, brief: IdentityCreateRequest | dict[str, Any], *, idempotency_key: str | None = None
    ) -> IdentityCreateResponse:
        """Draft identities from a brief (`POST /identity/create`, 202): a job whose results
        are the drafts; `promote` one of them. The same `idempotency_key` again answers with
        the same job (vestis)."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        response = await self._call("POST", "/identity/create", json=_brief(brief), headers=headers)
        return IdentityCreateResponse.model_validate(response.json())

    async def promote(
        self, image_result_id: str, name: str | None = None
    ) -> PromoteGeneratedResponse:
        """Make a generated image (a result's `output_id` / `image_result_id`) an identity; one
        promoted before answers with its identity (no `preprocessing_job_id`)."""
        try:
            response = await self._call(
                "POST", "/identity/promote-generated", json=_promotion(image_result_id, name)
            )
        except ConflictError as exc:
            return _promoted(exc)
        return PromoteGeneratedResponse.model_validate(response.json())

    async def extract_preset(self, file_id: str) -> PresetExtractResponse:
        """A brief's attributes read from an uploaded photo of a person."""
        body = {"file_id": file_id, "type": "identity_creation"}
        response = await self._call("POST", "/preset/extract-from-image", json=body)
        return PresetExtractResponse.model_validate(response.json())
