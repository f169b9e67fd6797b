"""`S3BlobStore`: the blob store in an S3-compatible bucket (`--blob-store s3://BUCKET[/prefix]`),
for API and worker processes on many machines. Same keys and calls as the filesystem store,
plus presigned links: uploads are PUT by clients straight to the bucket, images are fetched
from it with presigned GETs, so image bytes never pass through an API process.

Endpoint, region and credentials come from the standard AWS settings, as boto3 reads them
(`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_DEFAULT_REGION`, profiles,
instance roles). With an endpoint of its own (MinIO, moto, Ceph, ...) path-style addressing is
used, which every S3-compatible server understands.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from vestis.server.store.blobs import BlobKeyError, BlobStore, check_key

CHUNK_BYTES = 1024 * 1024


class BlobStoreError(ValueError):
    """A `--blob-store` value that is not `s3://BUCKET[/prefix]`."""


def parse_s3_url(url: str) -> tuple[str, str]:
    """(bucket, prefix) of `s3://BUCKET[/prefix]`."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise BlobStoreError(f"--blob-store {url!r} is not s3://BUCKET[/prefix].")
    prefix = parts.path.strip("/")
    return parts.netloc, f"{prefix}/" if prefix else ""


def _client() -> Any:
    import boto3
    from botocore.config import Config

    custom_endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": "path" if custom_endpoint else "auto"},
        retries={"mode": "standard", "max_attempts": 5},
    )
    return boto3.client("s3", config=config)


class S3BlobStore(BlobStore):
    presigns = True

    def __init__(self, url: str, client: Any = None) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        # the bucket unreachable (BotoCoreError: no connection, a timeout) or answering an
        # error (ClientError: 5xx, no such bucket)
        self.outage_errors = (OSError, BotoCoreError, ClientError)
        self.bucket, self.prefix = parse_s3_url(url)
        self.s3 = client or _client()
        # bytes still arriving (the studio's uploads), before they go to the bucket
        self.root = Path(tempfile.mkdtemp(prefix="vestis-s3-"))

    def _name(self, key: str) -> str:
        return self.prefix + check_key(key)

    def path(self, key: str) -> Path:
        raise BlobKeyError("blobs in S3 have no local path; use a presigned link")

    def write(self, key: str, data: bytes) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=self._name(key), Body=data)

    def temp_path(self) -> Path:
        handle, name = tempfile.mkstemp(suffix=".part", dir=self.root)
        os.close(handle)
        return Path(name)

    def adopt(self, temp: Path, key: str) -> None:
        self.s3.upload_file(str(temp), self.bucket, self._name(key))
        temp.unlink(missing_ok=True)

    def read(self, key: str) -> bytes:
        return bytes(self.s3.get_object(Bucket=self.bucket, Key=self._name(key))["Body"].read())

    def iter_bytes(self, key: str, chunk: int = CHUNK_BYTES) -> Iterator[bytes]:
        body = self.s3.get_object(Bucket=self.bucket, Key=self._name(key))["Body"]
        try:
            yield from body.iter_chunks(chunk)
        finally:
            body.close()

    def delete(self, key: str) -> None:
        self.s3.delete_object(Bucket=self.bucket, Key=self._name(key))

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.s3.head_object(Bucket=self.bucket, Key=self._name(key))
        except ClientError:
            return False
        except BlobKeyError:
            return False
        return True

    def presigned_get(
        self, key: str, ttl: int, content_type: str | None = None, filename: str | None = None
    ) -> str:
        params: dict[str, str] = {"Bucket": self.bucket, "Key": self._name(key)}
        if content_type:
            params["ResponseContentType"] = content_type
        if filename:
            safe = "".join(ch for ch in filename if ch.isprintable() and ch not in '"\\')
            params["ResponseContentDisposition"] = f'inline; filename="{safe}"'
        return str(self.s3.generate_presigned_url("get_object", Params=params, ExpiresIn=ttl))

    def presigned_put(self, key: str, ttl: int) -> str:
        params = {"Bucket": self.bucket, "Key": self._name(key)}
        return str(self.s3.generate_presigned_url("put_object", Params=params, ExpiresIn=ttl))
