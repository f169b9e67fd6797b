"""Identity endpoints (spec §2.5)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Query, UploadFile

from vestis.contract.common import MAX_PAGE, PRINTABLE, ErrorBody
from vestis.contract.identities import (
    IdentityConflict,
    IdentityInfo,
    IdentityListResponse,
    IdentityMetadataRequest,
    IdentityMetadataResponse,
    IdentityPhotoAdded,
    IdentityPhotoList,
    IdentityStatusResponse,
    IdentityUploadResponse,
)
from vestis.contract.uploads import MAX_UPLOAD_BYTES
from vestis.server.errors import ApiError, method_not_allowed
from vestis.server.http.deps import DbDep, SessionRoute, StateDep, UserDep
from vestis.server.services import identities
from vestis.server.store.models import utcnow

router = APIRouter(route_class=SessionRoute, prefix="/identity", tags=["identities"])


@router.api_route("/upload", methods=["GET", "PUT", "PATCH", "DELETE"], include_in_schema=False)
def upload_other_methods() -> None:
    """Before `/{identity_code}`, which would look for an identity named `upload` (404)."""
    raise method_not_allowed("POST")


@router.post(
    "/upload",
    response_model=IdentityUploadResponse,
    responses={
        409: {"model": IdentityConflict},
        413: {"model": ErrorBody},
        415: {"model": ErrorBody, "description": "Not a readable JPEG, PNG or WebP"},
    },
)
def upload_identity(
    state: StateDep,
    db: DbDep,
    user: UserDep,
    image: Annotated[UploadFile, File(description="The identity's face image.")],
    name: Annotated[str | None, Form(max_length=255, pattern=PRINTABLE)] = None,
    tag: Annotated[str | None, Form(max_length=128, pattern=PRINTABLE)] = None,
) -> IdentityUploadResponse:
    data = image.file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise ApiError(413, "Upload too large", f"Images are limited to {MAX_UPLOAD_BYTES} bytes.")
    made = identities.upload(state, db, user, data, image.filename, name, tag)
    db.commit()  # before the event, so a client reacting to it finds the identity
    if state.runtime is not None:
        event = {
            "identity_code": made.identity_code,
            "status": made.preprocessing_status,
            "face_detected": made.face_detected,
            "findings": [f.name for f in made.photo_check.findings] if made.photo_check else [],
        }
        state.runtime.bus.emit(user.id, "identity_preprocessing", event)
    return made


@router.get("", response_model=IdentityListResponse)
def list_identities(
    state: StateDep,
    db: DbDep,
    user: UserDep,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 20,
    order: Literal["asc", "desc"] = "desc",
    search: str | None = None,
    sort_by: Literal["name", "created_at"] = "created_at",
    ownership: Literal["mine", "shared", "default"] | None = None,
    tag: str | None = None,
    gender: Literal["male", "female", "non-binary"] | None = None,
    min_age: Annotated[int | None, Query(ge=0, le=200)] = None,
    max_age: Annotated[int | None, Query(ge=0, le=200)] = None,
) -> IdentityListResponse:
    if ownership in ("shared", "default"):  # this server has no shared or platform identities
        return identities.listing(
            state, db, user, page_no=page, per_page=per_page, order=order, sort_by=sort_by,
            search="\0", tag=None, gender=None, min_age=None, max_age=None,
        )  # fmt: skip
    return identities.listing(
        state, db, user, page_no=page, per_page=per_page, order=order, sort_by=sort_by,
        search=search, tag=tag, gender=gender, min_age=min_age, max_age=max_age,
    )  # fmt: skip


@router.get("/{identity_code}", response_model=IdentityInfo)
def get_identity(state: StateDep, db: DbDep, user: UserDep, identity_code: str) -> IdentityInfo:
    identity = identities.owned(db, user, identity_code)
    return IdentityInfo(**identities.info(state, identity, user, with_photos=True))


@router.post(
    "/{identity_code}/photos",
    response_model=IdentityPhotoAdded,
    responses={
        404: {"model": ErrorBody},
        409: {"model": ErrorBody, "description": "The image is already a photo of the identity"},
        413: {"model": ErrorBody},
        415: {"model": ErrorBody, "description": "Not a readable JPEG, PNG or WebP"},
    },
)
def add_identity_photo(
    state: StateDep,
    db: DbDep,
    user: UserDep,
    identity_code: str,
    image: Annotated[UploadFile, File(description="Another photo of the identity's face.")],
) -> IdentityPhotoAdded:
    """vestis extension: add a photo to the identity (no credits). A model swap uses, per
    target photo, the identity photo that fits it best (expression, head pose)."""
    data = image.file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise ApiError(413, "Upload too large", f"Images are limited to {MAX_UPLOAD_BYTES} bytes.")
    return identities.add_photo(state, db, user, identity_code, data, image.filename)


@router.get(
    "/{identity_code}/photos",
    response_model=IdentityPhotoList,
    responses={404: {"model": ErrorBody}},
)
def list_identity_photos(
    state: StateDep, db: DbDep, user: UserDep, identity_code: str
) -> IdentityPhotoList:
    """vestis extension: the identity's photos, the first one first, each with its check."""
    return identities.photos(state, db, user, identity_code)


@router.delete(
    "/{identity_code}/photos/{photo_id}",
    responses={404: {"model": ErrorBody}, 409: {"model": ErrorBody}},
)
def remove_identity_photo(
    db: DbDep, user: UserDep, identity_code: str, photo_id: str
) -> dict[str, object]:
    """vestis extension: remove a photo; an identity keeps at least one (409)."""
    identities.remove_photo(db, user, identity_code, photo_id)
    return {"success": True, "message": f"Photo {photo_id} removed from {identity_code}"}


@router.get("/{identity_code}/status", response_model=IdentityStatusResponse)
def identity_status(db: DbDep, user: UserDep, identity_code: str) -> IdentityStatusResponse:
    identity = identities.owned(db, user, identity_code)
    return IdentityStatusResponse(
        preprocessing_status=identity.preprocessing_status,
        error_message=identity.error_message,
    )


@router.patch("/{identity_code}/metadata", response_model=IdentityMetadataResponse)
def update_metadata(
    db: DbDep, user: UserDep, identity_code: str, body: IdentityMetadataRequest
) -> IdentityMetadataResponse:
    identity = identities.owned(db, user, identity_code)
    description = dict(identity.description or {})
    description.update(body.model_dump(exclude_none=True))
    identity.description = description
    identity.updated_at = utcnow()
    return IdentityMetadataResponse(
        success=True, message="Identity metadata updated", image_description=description
    )


@router.delete("/{identity_code}")
def delete_identity(db: DbDep, user: UserDep, identity_code: str) -> dict[str, object]:
    """Jobs already created with the identity still finish; new jobs cannot use it."""
    identity = identities.owned(db, user, identity_code)
    identity.deleted = True
    return {"success": True, "message": f"Identity {identity_code} deleted"}
