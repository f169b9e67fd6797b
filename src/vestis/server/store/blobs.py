"""The blob store: image bytes under `<data dir>/blobs`, addressed by keys the server makes
(`blobs_s3.S3BlobStore` keeps the same keys in a bucket).

Keys are `<kind>/<2 hex>/<32 hex>.<ext>`; client-supplied names never reach the file system, and
every key is checked against that shape and resolved inside the root before use. Folders are
0700 and files 0600 whatever the umask: the images are the users' photos.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import tenacity

from vestis.server.errors import is_out_of_space
from vestis.server.store.disk import remove_quietly

log = logging.getLogger("vestis.server.store")
T = TypeVar("T")

FOLDER_MODE = 0o700
FILE_MODE = 0o600
_KEY = re.compile(r"^[a-z]{2,16}/[0-9a-f]{2}/[0-9a-f]{32}\.(jpg|png|webp|bin|zip)$")


class BlobKeyError(ValueError):
    """A key that is not one the store made."""


def check_key(key: str) -> str:
    if not _KEY.match(key):
        raise BlobKeyError(f"not a blob key: {key!r}")
    return key


def private_folder(folder: Path) -> None:
    """`folder` and the parents it needs, 0700 (mkdir's mode only narrows the umask's)."""
    if not folder.is_dir():
        private_folder(folder.parent)
        folder.mkdir(mode=FOLDER_MODE, exist_ok=True)


def fsync_path(path: Path) -> None:
    """Flush a file's data to the disk (through a descriptor of its own)."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


#: Tries of a store step that failed for the store (`store_retrying`), with pauses of 2, 4, 8
#: and 16 s between them (the job queue's own retries on PostgreSQL).
STORE_ATTEMPTS = 5


class BlobStore:
    #: True for stores that hand out presigned links of their own (S3): clients then PUT and GET
    #: the bytes there, not through the server's signed routes.
    presigns = False
    #: What a call raises when the store itself fails (unreachable, unwritable), as opposed to
    #: a bad key: worth trying again (`store_retrying`).
    outage_errors: tuple[type[BaseException], ...] = (OSError,)

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        private_folder(self.root)
        os.chmod(self.root, FOLDER_MODE)

    @staticmethod
    def new_key(kind: str, ext: str) -> str:
        name = secrets.token_hex(16)
        return f"{kind}/{name[:2]}/{name}.{ext}"

    def path(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        if not path.is_relative_to(self.root):
            raise BlobKeyError(f"blob key escapes the store: {key!r}")
        return path

    def write(self, key: str, data: bytes) -> None:
        """Write atomically (temp file + rename), so a crash never leaves half a file."""
        path = self.path(key)
        private_folder(path.parent)
        tmp = path.with_suffix(path.suffix + ".part")
        try:
            descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
            with open(descriptor, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:  # a full disk, say: leave no half-written .part behind
            remove_quietly(tmp)
            raise

    def temp_path(self) -> Path:
        """A fresh file name for bytes still arriving (see `adopt`)."""
        folder = self.root / "tmp"
        private_folder(folder)
        return folder / f"{secrets.token_hex(16)}.part"

    def adopt(self, temp: Path, key: str) -> None:
        """Move a fully written and fsynced temp file to `key` (atomic rename)."""
        path = self.path(key)
        private_folder(path.parent)
        os.chmod(temp, FILE_MODE)  # made by whoever wrote it, with the umask's mode
        os.replace(temp, path)

    def read(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def iter_bytes(self, key: str, chunk: int = 1024 * 1024) -> Iterator[bytes]:
        """The blob in pieces, for streaming it out."""
        with open(self.path(key), "rb") as handle:
            while piece := handle.read(chunk):
                yield piece

    def presigned_get(
        self, key: str, ttl: int, content_type: str | None = None, filename: str | None = None
    ) -> str:
        raise NotImplementedError("the filesystem store's files go through signed routes")

    def presigned_put(self, key: str, ttl: int) -> str:
        raise NotImplementedError("the filesystem store's uploads go through signed routes")

    def delete(self, key: str) -> None:
        """Remove a blob (nothing happens if it is gone already)."""
        self.path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        try:
            return self.path(key).is_file()
        except BlobKeyError:
            return False


def store_retrying(blobs: BlobStore, work: Callable[[], T], what: str) -> T:
    """`work()` (writes to `blobs`), tried again after 2, 4, 8, 16 s while the store fails
    (S3 unreachable, an OSError of the disk: an outage, like the database's), `STORE_ATTEMPTS`
    tries in all; then its last error is raised. A full disk is raised at once: it does not
    clear by itself, and the caller says so. For what must not be made again to be stored (an
    engine's output: its inputs, the engine's time and an upstream service's credits)."""

    def outage(exc: BaseException) -> bool:
        return isinstance(exc, blobs.outage_errors) and not is_out_of_space(exc)

    def tell(state: tenacity.RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        pause = state.next_action.sleep if state.next_action else 0
        log.warning(
            "storing %s failed (try %d of %d), trying again in %g s: %s",
            what,
            state.attempt_number,
            STORE_ATTEMPTS,
            pause,
            error,
        )

    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception(outage),
        stop=tenacity.stop_after_attempt(STORE_ATTEMPTS),
        wait=tenacity.wait_exponential(multiplier=2, max=16),
        before_sleep=tell,
        reraise=True,
    )
    return retrying(work)
