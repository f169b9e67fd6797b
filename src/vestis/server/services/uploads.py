"""Uploads: `POST /upload` reserves a file id and signs a PUT URL on this server; the PUT
stores the bytes after checking they are an acceptable image."""

from __future__ import annotations

import os
import threading
import uuid
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from vestis.contract.uploads import UPLOAD_URL_TTL_SECONDS, UploadResponse
from vestis.server.errors import ApiError, not_found
from vestis.server.guard.security import new_public_id
from vestis.server.media import images
from vestis.server.services import projects
from vestis.server.store.blobs import fsync_path
from vestis.server.store.core import ServerCore
from vestis.server.store.db import after_commit
from vestis.server.store.models import File, User

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
    state: ServerCore, db: Session, user: User, filename: str | None, project_name: str | None
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
    if state.blobs.presigns:  # the client PUTs straight to the bucket, at a staging key
        row.blob_key = state.blobs.new_key("uploads", "bin")
        upload_url = state.blobs.presigned_put(row.blob_key, UPLOAD_URL_TTL_SECONDS)
    else:
        upload_url = state.signer.url("PUT", upload_path(row.public_id), UPLOAD_URL_TTL_SECONDS)
    db.add(row)
    db.flush()
    return UploadResponse(
        upload_url=upload_url,
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


def store(state: ServerCore, file_id: str, data: bytes, written: Path) -> None:
    """Check and keep the PUT body of a reserved upload. An upload link is good for one
    upload: a second PUT with other bytes is 409 (it would replace an input a job may have
    used already), the same bytes again (a retry whose answer was lost) answer as the first.
    `written` holds the same bytes, already written while they arrived; it is flushed to disk
    while the image is decoded, then renamed into the store. The database is touched only
    briefly before and after: decoding and fsync hold no connection and no lock."""
    with state.db.session() as db:
        row = by_public_id(db, file_id)
        if row is None:
            raise not_found("Upload", file_id)
        used = row.uploaded
    if used:
        _replay_or_refuse(state, file_id, data)
        return
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
    with state.db.session() as db:
        claimed = db.execute(
            update(File)
            .where(File.public_id == file_id, File.uploaded.is_(False))
            .values(
                blob_key=key,
                image_format=facts.ext,
                width=facts.width,
                height=facts.height,
                size_bytes=len(data),
                uploaded=True,
            )
        )
        won = getattr(claimed, "rowcount", 0) == 1
    if not won:  # another PUT of this link got there first
        state.blobs.delete(key)
        _replay_or_refuse(state, file_id, data)


def _replay_or_refuse(state: ServerCore, file_id: str, data: bytes) -> None:
    with state.db.session() as db:
        row = by_public_id(db, file_id)
        key = row.blob_key if row is not None else None
    if key is not None and state.blobs.exists(key) and state.blobs.read(key) == data:
        return
    raise ApiError(
        409,
        "Upload link already used",
        f"File {file_id!r} was uploaded already and an upload link is good for one upload; "
        "reserve a new one with POST /upload for other bytes.",
    )


def settle(state: ServerCore, db: Session, user_id: int, file_ids: list[str]) -> None:
    """Uploads PUT straight to the bucket (S3 store) are checked on their first use, as the PUT
    route checks them, and copied to their own key: a later PUT to the same link cannot change
    an input a job has used. Not PUT yet: left as they are (the job's own check says so)."""
    if not state.blobs.presigns or not file_ids:
        return
    rows = db.scalars(
        select(File).where(
            File.public_id.in_(file_ids),
            File.user_id == user_id,
            File.uploaded.is_(False),
            File.blob_key.is_not(None),
        )
    ).all()
    for row in rows:
        # The row first (PostgreSQL: its lock; SQLite: the write lock): of requests naming the
        # same new upload at once, one adopts it and the others find it adopted.
        db.execute(update(File).where(File.id == row.id).values(blob_key=File.blob_key))
        db.refresh(row)
        if not row.uploaded and row.blob_key is not None:
            _settle_one(state, db, row, row.blob_key)
    db.flush()


def settled_key(staging: str, ext: str) -> str:
    """The input's own key, named after its staging key: every run of a settle of one upload
    (a retried transaction, a request after a rollback) writes the same object."""
    _kind, shard, name = staging.split("/")
    return f"inputs/{shard}/{name.rsplit('.', 1)[0]}.{ext}"


def _staged_bytes(state: ServerCore, staging: str) -> bytes | None:
    """The PUT bytes: at the staging key, or, when a settle whose transaction then rolled back
    already moved them, at their own key (a vestis before this one deleted the staging object
    before its commit). None when nothing was PUT yet."""
    if state.blobs.exists(staging):
        return state.blobs.read(staging)
    for ext in images.ACCEPTED_FORMATS.values():
        key = settled_key(staging, ext)
        if state.blobs.exists(key):
            return state.blobs.read(key)
    return None


def _settle_one(state: ServerCore, db: Session, row: File, staging: str) -> None:
    data = _staged_bytes(state, staging)
    if data is None:
        return
    try:
        facts = images.inspect_image(data)
    except images.ImageRejected as exc:
        raise ApiError(exc.status_code, images.rejection_title(exc), str(exc)) from exc
    key = settled_key(staging, facts.ext)
    state.blobs.write(key, data)
    row.blob_key = key
    row.image_format = facts.ext
    row.width, row.height, row.size_bytes = facts.width, facts.height, len(data)
    row.uploaded = True
    # Only once the row says where the bytes are: a rollback keeps the staging object, which
    # the next settle finds as it was.
    after_commit(db, lambda: state.blobs.delete(staging))
