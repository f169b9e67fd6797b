"""Uploads: `POST /upload` reserves a file id and signs a PUT URL on this server; the PUT
stores the bytes after checking they are an acceptable image."""

from __future__ import annotations

import os
import threading
import uuid
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from vestis.contract.uploads import UPLOAD_URL_TTL_SECONDS, UploadResponse
from vestis.server import images
from vestis.server.blobs import fsync_path
from vestis.server.errors import ApiError, not_found
from vestis.server.models import File, User
from vestis.server.security import new_public_id
from vestis.server.services import projects
from vestis.server.state import ServerState

#: Signed links to uploaded inputs (`download_url`) live as long as output links.
INPUT_URL_TTL_SECONDS = 24 * 3600


def upload_path(file_id: str) -> str:
    return f"/upload/{file_id}"


def input_path(file_id: str) -> str:
    return f"/files/inputs/{file_id}"


def clean_filename(filename: str | None) -> str:
    """The basename the client sent (metadata only), or a random UUID name when empty."""
    name = os.path.basename((filename or "").replace("\\", "/")).strip()
    name = "".join(ch for ch in name if ch.isprintable())
    return name[:255] if name and name not in (".", "..") else f"{uuid.uuid4()}.jpg"


def reserve(
    state: ServerState, db: Session, user: User, filename: str | None, project_name: str | None
) -> UploadResponse:
    name = clean_filename(filename)
    project = projects.get_or_create(db, user, project_name) if project_name else None
    row = File(
        public_id=new_public_id("img"),
        user_id=user.id,
        project_id=project.id if project else None,
        filename=name,
        content_type=images.content_type_for(name),
    )
    db.add(row)
    db.flush()
    return UploadResponse(
        upload_url=state.signer.url("PUT", upload_path(row.public_id), UPLOAD_URL_TTL_SECONDS),
        download_url=state.signer.url("GET", input_path(row.public_id), INPUT_URL_TTL_SECONDS),
        project_id=project.key if project else None,
        project_name=project.name if project else None,
        file_id=row.public_id,
        filename=name,
        content_type=row.content_type,
    )


def by_public_id(db: Session, file_id: str) -> File | None:
    return db.scalar(select(File).where(File.public_id == file_id))


def owned(db: Session, user: User, file_id: str) -> File:
    row = by_public_id(db, file_id)
    if row is None or row.user_id != user.id:
        raise not_found("File", file_id)
    return row


def store(state: ServerState, db: Session, file_id: str, data: bytes, written: Path) -> File:
    """Check and keep the PUT body of a reserved upload (a second PUT replaces the first).
    `written` holds the same bytes, already written while they arrived; it is flushed to disk
    while the image is decoded, then renamed into the store."""
    row = by_public_id(db, file_id)
    if row is None:
        raise not_found("Upload", file_id)
    syncing = threading.Thread(target=fsync_path, args=(written,), name="upload-fsync")
    syncing.start()
    try:
        facts = images.inspect_image(data)
    except images.ImageRejected as exc:
        raise ApiError(exc.status_code, images.rejection_title(exc), str(exc)) from exc
    finally:
        syncing.join()
    key = state.blobs.new_key("inputs", facts.ext)
    state.blobs.adopt(written, key)
    row.blob_key = key
    row.image_format = facts.ext
    row.width, row.height, row.size_bytes = facts.width, facts.height, len(data)
    row.uploaded = True
    return row
