"""Identities: the face images that model swap and flat-to-model put on the outputs."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from PIL import Image
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from vestis.contract.identities import (
    IdentityInfo,
    IdentityListResponse,
    IdentityPhotoAdded,
    IdentityPhotoInfo,
    IdentityPhotoList,
    IdentityUploadResponse,
)
from vestis.server.errors import ApiError, not_found
from vestis.server.guard.security import new_public_id
from vestis.server.media import images
from vestis.server.services.accounts import iso
from vestis.server.services.projects import pagination
from vestis.server.services.uploads import clean_filename
from vestis.server.store.core import ServerCore
from vestis.server.store.models import Identity, IdentityPhoto, User, utcnow
from vestis.server.store.signing import FILE_URL_TTL_SECONDS

if TYPE_CHECKING:
    from vestis.engines.base import FaceInfo
    from vestis.quality.identity_photo import IdentityPhotoCheck


def link(state: ServerCore, identity: Identity) -> str:
    return state.signer.url("GET", f"/files/identities/{identity.code}", FILE_URL_TTL_SECONDS)


def photo_link(state: ServerCore, photo: IdentityPhoto) -> str:
    return state.signer.url("GET", f"/files/identities/{photo.public_id}", FILE_URL_TTL_SECONDS)


def photo_info(state: ServerCore, photo: IdentityPhoto) -> IdentityPhotoInfo:
    return IdentityPhotoInfo(
        photo_id=photo.public_id,
        position=photo.position,
        original_filename=photo.original_filename,
        link=photo_link(state, photo),
        face_detected=photo.face_detected,
        photo_check=photo.photo_check,
        face_traits=photo.face_traits,
        created_at=iso(photo.created_at),
    )


def info(
    state: ServerCore, identity: Identity, owner: User, with_photos: bool = False
) -> dict[str, Any]:
    photos = [photo_info(state, p) for p in identity.photos] if with_photos else None
    return IdentityInfo(
        identity_code=identity.code,
        name=identity.name,
        preprocessing_status=identity.preprocessing_status,
        created_at=iso(identity.created_at) or "",
        updated_at=iso(identity.updated_at) or "",
        original_filename=identity.original_filename,
        link=link(state, identity),
        visibility="private",
        groups=[],
        created_by=owner.username,
        image_description=identity.description or None,
        face_detected=identity.face_detected,
        photo_check=identity.photo_check,
        photos=photos,
    ).model_dump()


def owned(db: Session, user: User, code: str) -> Identity:
    identity = db.scalar(
        select(Identity).where(
            Identity.code == code, Identity.user_id == user.id, Identity.deleted.is_(False)
        )
    )
    if identity is None:
        raise not_found("Identity", code)
    return identity


def _face_metadata(face: FaceInfo) -> dict[str, Any]:
    meta: dict[str, Any] = {"confidence": face.confidence, "has_body": face.has_body}
    if face.box is not None:
        meta["box"] = list(face.box)
    meta.update(face.metadata)
    return meta


def _checked_photo(image: Image.Image) -> IdentityPhotoCheck:
    """What the photo shows that swaps carry over; a photo of several people is refused (the
    engine would use the largest face, which may not be the one meant)."""
    # the face models' libraries (OpenCV, numpy) load with the first upload, not with the server
    from vestis.quality.identity_photo import check_identity_photo

    check = check_identity_photo(image)
    if check.faces > 1:
        raise ApiError(
            422,
            "Several faces",
            f"The identity photo shows {check.faces} faces; an identity is one person. Crop "
            "it to the one face you mean, or upload a photo of that person alone.",
            faces=check.faces,
        )
    return check


def _traits(image: Image.Image) -> dict[str, float] | None:
    """The face traits the choice between an identity's photos compares."""
    from vestis.quality import identity_choice  # OpenCV and the face mesh: only on upload

    face = identity_choice.measure(image)
    return None if face is None else face.as_dict()


def _refuse_duplicate(db: Session, user: User, digest: str) -> None:
    existing = db.scalar(
        select(Identity).where(
            Identity.user_id == user.id,
            Identity.content_sha256 == digest,
            Identity.deleted.is_(False),
        )
    )
    if existing is not None:
        raise ApiError(
            409,
            "Identity already exists",
            f"This image is already the identity {existing.code!r}.",
            existing_identity_code=existing.code,
            identity_code=existing.code,
        )


def upload(
    state: ServerCore,
    db: Session,
    user: User,
    data: bytes,
    filename: str | None,
    name: str | None,
    tag: str | None,
) -> IdentityUploadResponse:
    """Store a new identity image and detect its face; the same bytes again answer 409."""
    try:
        facts = images.inspect_image(data)
    except images.ImageRejected as exc:
        raise ApiError(exc.status_code, images.rejection_title(exc), str(exc)) from exc
    digest = hashlib.sha256(data).hexdigest()
    _refuse_duplicate(db, user, digest)
    assert state.engine is not None
    image = images.open_image(data)
    check = _checked_photo(image)
    face = state.engine.detect_face(image)
    key = state.blobs.new_key("identities", facts.ext)
    state.blobs.write(key, data)
    # Two uploads of one image at once: the second waits here for the first to commit, then
    # finds it. A no-op write on the user's row is a lock on SQLite and PostgreSQL alike.
    db.execute(update(User).where(User.id == user.id).values(id=User.id))
    try:
        _refuse_duplicate(db, user, digest)
    except ApiError:
        state.blobs.delete(key)
        raise
    original = clean_filename(filename)
    identity = Identity(
        code=new_public_id("id"),
        user_id=user.id,
        name=(name or original.rsplit(".", 1)[0])[:255],
        original_filename=original,
        content_sha256=digest,
        blob_key=key,
        face_detected=face.detected,
        face_metadata=_face_metadata(face),
        description={"tag": tag} if tag else {},
        photo_check=check.as_dict(),
        preprocessing_status="completed" if face.detected else "failed",
        error_message=None if face.detected else "No face was found in the identity image.",
    )
    identity.photos.append(
        IdentityPhoto(
            public_id=new_public_id("photo"),
            position=0,
            original_filename=original,
            content_sha256=digest,
            blob_key=key,
            face_detected=face.detected,
            face_metadata=identity.face_metadata,
            photo_check=identity.photo_check,
            face_traits=_traits(image),
        )
    )
    db.add(identity)
    db.flush()
    body = info(state, identity, user, with_photos=True)
    return IdentityUploadResponse(**body, success=True, face_metadata=identity.face_metadata)


def add_photo(
    state: ServerCore, db: Session, user: User, code: str, data: bytes, filename: str | None
) -> IdentityPhotoAdded:
    """Another photo of the identity `code`: checked like the first, refused when it shows no
    face or several (422) or is already one of the identity's photos (409)."""
    identity = owned(db, user, code)
    try:
        facts = images.inspect_image(data)
    except images.ImageRejected as exc:
        raise ApiError(exc.status_code, images.rejection_title(exc), str(exc)) from exc
    digest = hashlib.sha256(data).hexdigest()
    assert state.engine is not None
    image = images.open_image(data)
    check = _checked_photo(image)
    face = state.engine.detect_face(image)
    if not face.detected:
        raise ApiError(
            422,
            "No face",
            "No face was found in this photo; an identity's photos each show its person's "
            "face. Upload a photo with a clearly visible face (front view, not too small).",
        )
    traits = _traits(image)
    # Two additions at once wait for each other here (positions and duplicates stay right).
    db.execute(update(User).where(User.id == user.id).values(id=User.id))
    db.refresh(identity)
    for photo in identity.photos:
        if photo.content_sha256 == digest:
            raise ApiError(
                409,
                "Photo already added",
                f"This image is already the photo {photo.public_id!r} of the identity {code!r}.",
                photo_id=photo.public_id,
                identity_code=code,
            )
    key = state.blobs.new_key("identities", facts.ext)
    state.blobs.write(key, data)
    photo = IdentityPhoto(
        public_id=new_public_id("photo"),
        position=max((p.position for p in identity.photos), default=-1) + 1,
        original_filename=clean_filename(filename),
        content_sha256=digest,
        blob_key=key,
        face_detected=face.detected,
        face_metadata=_face_metadata(face),
        photo_check=check.as_dict(),
        face_traits=traits,
    )
    identity.photos.append(photo)
    identity.updated_at = utcnow()
    db.flush()
    return IdentityPhotoAdded(**photo_info(state, photo).model_dump(), identity_code=code)


def photos(state: ServerCore, db: Session, user: User, code: str) -> IdentityPhotoList:
    identity = owned(db, user, code)
    return IdentityPhotoList(
        identity_code=code, photos=[photo_info(state, p) for p in identity.photos]
    )


def remove_photo(db: Session, user: User, code: str, photo_id: str) -> None:
    """Remove one photo; the last one stays (delete the identity instead). Removing the first
    makes the next one first: the identity's own image, check and link become that photo's."""
    identity = owned(db, user, code)
    db.execute(update(User).where(User.id == user.id).values(id=User.id))
    db.refresh(identity)
    found = next((p for p in identity.photos if p.public_id == photo_id), None)
    if found is None:
        raise not_found("Photo", photo_id)
    if len(identity.photos) == 1:
        raise ApiError(
            409,
            "Last photo",
            f"{photo_id!r} is the only photo of the identity {code!r}; an identity keeps at "
            "least one. Add another photo first, or delete the identity.",
        )
    identity.photos.remove(found)
    first = identity.photos[0]
    if first.blob_key != identity.blob_key:
        identity.blob_key = first.blob_key
        identity.content_sha256 = first.content_sha256
        identity.face_detected = first.face_detected
        identity.face_metadata = first.face_metadata
        identity.photo_check = first.photo_check
    identity.updated_at = utcnow()
    db.flush()


def listing(
    state: ServerCore,
    db: Session,
    user: User,
    *,
    page_no: int,
    per_page: int,
    order: str,
    sort_by: str,
    search: str | None,
    tag: str | None,
    gender: str | None,
    min_age: int | None,
    max_age: int | None,
) -> IdentityListResponse:
    rows = list(
        db.scalars(
            select(Identity).where(Identity.user_id == user.id, Identity.deleted.is_(False))
        ).all()
    )
    if search:
        rows = [r for r in rows if search.lower() in r.name.lower()]
    rows = [r for r in rows if _matches(r.description or {}, tag, gender, min_age, max_age)]
    if sort_by == "name":
        rows.sort(key=lambda r: (r.name.lower(), r.id), reverse=order == "desc")
    else:
        rows.sort(key=lambda r: (r.created_at, r.id), reverse=order == "desc")
    chunk = rows[(page_no - 1) * per_page : page_no * per_page]
    return IdentityListResponse(
        identities=[IdentityInfo(**info(state, r, user)) for r in chunk],
        pagination=pagination(page_no, per_page, len(rows)),
    )


def _matches(
    description: dict[str, Any],
    tag: str | None,
    gender: str | None,
    min_age: int | None,
    max_age: int | None,
) -> bool:
    age = description.get("age")
    return (
        (tag is None or description.get("tag") == tag)
        and (gender is None or description.get("gender") == gender)
        and (min_age is None or (age is not None and age >= min_age))
        and (max_age is None or (age is not None and age <= max_age))
    )


def count(db: Session, user: User) -> int:
    return db.scalar(select(func.count(Identity.id)).where(Identity.user_id == user.id)) or 0
