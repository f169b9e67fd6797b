"""Finding the blob behind a signed file link, and making such links."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from vestis.server.media.images import CONTENT_TYPES
from vestis.server.store.models import File, Identity, IdentityPhoto, JobOutput
from vestis.server.store.signing import FILE_URL_TTL_SECONDS, UrlSigner


@dataclass(frozen=True)
class StoredFile:
    blob_key: str
    content_type: str
    filename: str


def locate(db: Session, kind: str, object_id: str) -> StoredFile | None:
    if kind == "inputs":
        row = db.scalar(select(File).where(File.public_id == object_id))
        if row is None or row.blob_key is None or not row.uploaded:
            return None
        return StoredFile(row.blob_key, CONTENT_TYPES[row.image_format or "jpg"], row.filename)
    if kind == "identities":
        identity = db.scalar(select(Identity).where(Identity.code == object_id))
        key = None if identity is None or identity.deleted else identity.blob_key
        if identity is None:  # one of an identity's photos
            photo = db.scalar(select(IdentityPhoto).where(IdentityPhoto.public_id == object_id))
            key = None if photo is None or photo.identity.deleted else photo.blob_key
        if key is None:
            return None
        ext = key.rsplit(".", 1)[-1]
        return StoredFile(key, CONTENT_TYPES.get(ext, "image/jpeg"), "identity." + ext)
    output = db.scalar(select(JobOutput).where(JobOutput.public_id == object_id))
    if output is None:
        return None
    if kind == "thumbnails":
        if output.thumb_key is None:
            return None
        return StoredFile(output.thumb_key, "image/jpeg", "thumbnail.jpg")
    if output.blob_key is None:
        return None
    return StoredFile(
        output.blob_key, CONTENT_TYPES[output.output_format], output.original_filename
    )


def output_url(signer: UrlSigner, output: JobOutput) -> str:
    return signer.blob_url(
        f"/files/outputs/{output.public_id}",
        output.blob_key,
        FILE_URL_TTL_SECONDS,
        CONTENT_TYPES[output.output_format],
        output.original_filename,
    )


def thumbnail_url(signer: UrlSigner, output: JobOutput) -> str:
    return signer.blob_url(
        f"/files/thumbnails/{output.public_id}",
        output.thumb_key,
        FILE_URL_TTL_SECONDS,
        "image/jpeg",
        "thumbnail.jpg",
    )


def input_url(signer: UrlSigner, file_id: str) -> str:
    return signer.url("GET", f"/files/inputs/{file_id}", FILE_URL_TTL_SECONDS)
