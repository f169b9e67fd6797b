"""Everything one server process holds: settings, database, blobs, signer, engine, and the
background machinery (job workers, notification bus, webhook sender, rate limiter)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vestis.server.settings import DATABASE_FILE, ServerSettings
from vestis.server.store.blobs import BlobStore
from vestis.server.store.core import ServerCore
from vestis.server.store.db import Database
from vestis.server.store.schema import open_database
from vestis.server.store.server_secrets import put_once
from vestis.server.store.signing import UrlSigner

if TYPE_CHECKING:
    from vestis.server.process.runtime import Runtime


def _signing_key(db: Database) -> bytes:
    """The HMAC key of signed links, created once and kept in the database."""
    with db.session() as session:
        value, _ = put_once(session, "url_signing", secrets.token_hex(32))
        return bytes.fromhex(value)


def open_blob_store(settings: ServerSettings) -> BlobStore:
    """`--blob-store s3://BUCKET[/prefix]`, else the data dir's `blobs/`."""
    if settings.blob_store:
        from vestis.server.store.blobs_s3 import S3BlobStore

        return S3BlobStore(settings.blob_store)
    return BlobStore(settings.blob_dir)


def make_private(settings: ServerSettings) -> None:
    """The data dir holds password hashes, the URL-signing key and webhook secrets: it is
    0700 and the SQLite database (with its WAL files, which SQLite makes with the database's
    mode) 0600, whatever the umask, also for a data dir made by an older vestis."""
    folder = settings.data_dir
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    if settings.database_url is not None:
        return
    database = folder / DATABASE_FILE
    os.close(os.open(database, os.O_CREAT | os.O_WRONLY, 0o600))
    for path in (database, *(folder / f"{DATABASE_FILE}{end}" for end in ("-wal", "-shm"))):
        if path.exists():
            os.chmod(path, 0o600)


@dataclass
class ServerState(ServerCore):
    """A `ServerCore` and the background parts that work on it (the runtime of the process)."""

    #: Background parts (workers, notifications, webhooks), attached at startup.
    runtime: Runtime | None = None

    @classmethod
    def open(cls, settings: ServerSettings) -> ServerState:
        """Open (and create if needed) the data dir and database of `settings`."""
        make_private(settings)
        db = open_database(settings.db_url, pool_size=settings.pool_size)
        blobs = open_blob_store(settings)
        signer = UrlSigner(_signing_key(db), settings.base_url)
        if blobs.presigns:
            signer.direct = blobs.presigned_get
        return cls(settings=settings, db=db, blobs=blobs, signer=signer)
