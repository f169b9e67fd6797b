"""Bulk downloads: an expiring, auth-free token URL that serves a ZIP of jobs' outputs."""

from __future__ import annotations

import io
import re
import secrets
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vestis.contract.downloads import DOWNLOAD_TTL_SECONDS, MAX_BULK_IMAGES, DownloadResponse
from vestis.server.errors import ApiError, invalid
from vestis.server.guard.security import token_hash
from vestis.server.services import jobs, review
from vestis.server.services.accounts import iso
from vestis.server.store.blobs import BlobStore
from vestis.server.store.models import DownloadToken, Job, JobOutput, User, utcnow

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_entry_name(name: str) -> str:
    """A ZIP entry name that cannot climb out of the folder it is extracted into."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE.sub("_", base).lstrip(".")
    return cleaned[:200] or "image"


def reference_name(original: str, version: int) -> str:
    """`<stem>_v<version>.<ext>`, the reference scripts' naming rule."""
    if "." in original:
        stem, ext = original.rsplit(".", 1)
        return f"{stem}_v{version}.{ext}"
    return f"{original}_v{version}"


def zipped_outputs(job: Job, approved_only: bool) -> list[JobOutput]:
    """What a job's ZIP holds: the current version of each completed output (only the approved
    ones with `approved_only`)."""
    return [
        o
        for o in review.current_outputs(job.outputs)
        if o.status == "completed"
        and o.blob_key is not None
        and (not approved_only or o.feedback == review.LIKE)
    ]


def create(
    db: Session, user: User, base_url: str, job_ids: list[str], approved_only: bool = False
) -> DownloadResponse:
    owned = [jobs.owned(db, user, job_id) for job_id in job_ids]
    images = sum(len(zipped_outputs(job, approved_only)) for job in owned)
    if images > MAX_BULK_IMAGES:
        raise invalid(
            f"A download holds at most {MAX_BULK_IMAGES} images; these jobs have {images}.",
            "job_ids",
        )
    token = secrets.token_urlsafe(24)
    expires = utcnow() + timedelta(seconds=DOWNLOAD_TTL_SECONDS)
    db.add(
        DownloadToken(
            token_hash=token_hash(token),
            user_id=user.id,
            job_ids=[job.public_id for job in owned],
            approved_only=approved_only,
            expires_at=expires,
        )
    )
    return DownloadResponse(download_url=f"{base_url}/download/{token}", expires=iso(expires) or "")


def build_zip(db: Session, blobs: BlobStore, token: str) -> tuple[Iterator[bytes], str]:
    """The ZIP for the token, as pieces to stream (read from the blob store entry by entry),
    and a file name; 404 unknown, 403 expired."""
    row = db.scalar(select(DownloadToken).where(DownloadToken.token_hash == token_hash(token)))
    if row is None:
        raise ApiError(404, "Not found", "Unknown download link.")
    if row.expires_at < utcnow():
        raise ApiError(403, "Forbidden", "The download link has expired; request a new one.")
    found = db.scalars(
        select(Job).where(Job.public_id.in_(row.job_ids), Job.user_id == row.user_id)
    ).all()
    by_id = {job.public_id: job for job in found}
    ordered = [by_id[job_id] for job_id in row.job_ids if job_id in by_id]
    entries = zip_entries(ordered, row.approved_only, single=len(row.job_ids) == 1)
    filename = f"{row.job_ids[0]}.zip" if len(row.job_ids) == 1 else "results.zip"
    return stream_zip(blobs, entries), filename


def zip_entries(jobs_: list[Job], approved_only: bool, single: bool) -> list[tuple[str, str]]:
    """(entry name, blob key) of the jobs' outputs, named as the reference scripts name them
    (`<stem>_v<n>.<ext>`); one folder per job unless `single`."""
    entries: list[tuple[str, str]] = []
    taken: set[str] = set()
    for job in jobs_:
        folder = "" if single else safe_entry_name(job.public_id) + "/"
        for output in zipped_outputs(job, approved_only):
            assert output.blob_key is not None
            name = folder + _unique(
                safe_entry_name(reference_name(output.original_filename, output.version)),
                output.group_index,
                taken,
                folder,
            )
            entries.append((name, output.blob_key))
    return entries


def zip_jobs(blobs: BlobStore, jobs_: list[Job], approved_only: bool, single: bool) -> bytes:
    """The whole ZIP in memory (see `zip_entries`)."""
    return b"".join(stream_zip(blobs, zip_entries(jobs_, approved_only, single)))


class _Pipe(io.RawIOBase):
    """Where zipfile writes; drained after every piece. Not seekable, so zipfile writes each
    entry's sizes after its data, and nothing has to be held back."""

    def __init__(self) -> None:
        self.pieces: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.pieces.append(bytes(data))
        return len(data)

    def drain(self) -> bytes:
        data = b"".join(self.pieces)
        self.pieces.clear()
        return data


def stream_zip(blobs: BlobStore, entries: list[tuple[str, str]]) -> Iterator[bytes]:
    """A ZIP of `entries`, produced while each blob is read."""
    pipe = _Pipe()
    with zipfile.ZipFile(pipe, "w", zipfile.ZIP_STORED) as archive:
        for name, key in entries:
            with archive.open(name, "w") as entry:
                for piece in blobs.iter_bytes(key):
                    entry.write(piece)
                    yield pipe.drain()
            yield pipe.drain()
    yield pipe.drain()


def _unique(name: str, group: int, taken: set[str], folder: str) -> str:
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    candidate, counter = name, 0
    while folder + candidate in taken:
        counter += 1
        suffix = f"_g{group}" if counter == 1 else f"_g{group}_{counter}"
        candidate = f"{stem}{suffix}.{ext}" if dot else f"{stem}{suffix}"
    taken.add(folder + candidate)
    return candidate
