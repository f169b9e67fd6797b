"""Identity endpoints (spec §2.5)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from vestis.contract.common import Pagination, PrintableText, RequestModel, WireModel

PreprocessingStatus = Literal["pending", "processing", "completed", "failed"]
Gender = Literal["male", "female", "non-binary"]


class PhotoFinding(WireModel):
    """Something in an identity photo that swaps carry over or stumble on (vestis extension)."""

    #: Open-ended: "glasses", "facial_hair", "open_mouth", "lip_colour", "pose", "small_face",
    #: "uneven_light", and more in later versions.
    name: str
    #: What it means for swaps, and what photo would do better.
    message: str


class IdentityPhotoCheck(WireModel):
    """What vestis found in an identity photo when it was uploaded (vestis extension)."""

    #: People in the photo (0: no face found).
    faces: int
    findings: list[PhotoFinding] = []
    #: The measured values behind the findings (head pose in degrees, face width in pixels, ...).
    figures: dict[str, float | None] = {}


class IdentityPhotoInfo(WireModel):
    """One photo of an identity (vestis extension). An identity may hold several photos of
    its person; a model swap uses, per target photo, the one that fits it best: none of what
    the swap cannot render (glasses, a turned head, a beard onto a clean-shaven model, a grin
    onto a closed mouth), then the closest in mouth state and head pose."""

    photo_id: str
    #: 0 for the identity's first photo (the one it was uploaded with), then in order added.
    position: int
    original_filename: str | None = None
    link: str | None = None
    face_detected: bool | None = None
    photo_check: IdentityPhotoCheck | None = None
    #: The face's traits the choice compares (mouth_open, teeth, smile, yaw, roll, glasses,
    #: facial_hair, ...); null until measured.
    face_traits: dict[str, float] | None = None
    created_at: str | None = None


class IdentityPhotoAdded(IdentityPhotoInfo):
    success: bool = True
    identity_code: str


class IdentityPhotoList(WireModel):
    identity_code: str
    photos: list[IdentityPhotoInfo]


class IdentityInfo(WireModel):
    identity_code: str
    name: str
    preprocessing_status: PreprocessingStatus = "completed"
    created_at: str
    updated_at: str
    original_filename: str | None = None
    link: str | None = None
    visibility: str = "private"
    groups: list[str] = []
    created_by: str | None = None
    image_description: dict[str, Any] | str | None = None
    face_detected: bool | None = None
    locked: bool = False
    tier: str | None = None
    #: vestis extension: what the photo shows that swaps carry over (None: not checked).
    photo_check: IdentityPhotoCheck | None = None
    #: vestis extension: the identity's photos, the first one first (None in listings).
    photos: list[IdentityPhotoInfo] | None = None


class IdentityUploadResponse(IdentityInfo):
    success: bool = True
    face_metadata: dict[str, Any] = {}


class IdentityConflict(WireModel):
    """409 body for an image already uploaded as an identity."""

    error: str = "Identity already exists"
    message: str | None = None
    existing_identity_code: str


class IdentityListResponse(WireModel):
    identities: list[IdentityInfo]
    pagination: Pagination


class IdentityMetadataRequest(RequestModel):
    tag: PrintableText | None = Field(default=None, max_length=128)
    gender: Gender | None = None
    age: int | None = Field(default=None, ge=1, le=120)


class IdentityMetadataResponse(WireModel):
    success: bool
    message: str
    image_description: dict[str, Any] | str | None = None


class IdentityStatusResponse(WireModel):
    preprocessing_status: PreprocessingStatus
    error_message: str | None = None
