"""Content-addressed blob storage for documents: bytes stored under their sha-256.

Two stores behind one small interface: the filesystem (beside the databases, the embedded
profile) and an S3-compatible object store (MinIO, AWS S3, or any other that speaks the S3 API;
production), chosen by `SCF_DOCUMENT_STORE`. A store never vouches for what it hands back:
readers check the sha-256 of what they get (`backend.services.attachments`)."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Protocol

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from backend.settings import BackendSettings

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class BlobStoreError(RuntimeError):
    """The store cannot be reached or refused an operation (not: a blob is missing)."""


def _checked(digest: str) -> str:
    if not _SHA256.match(digest):
        raise ValueError(f"not a lower-case hex sha-256: {digest!r}")
    return digest


class BlobStore(Protocol):
    """Bytes by their sha-256 (lower-case hex). `put` is idempotent."""

    def put(self, digest: str, data: bytes) -> None: ...

    def get(self, digest: str) -> bytes | None:
        """The stored bytes, None if there are none (not checked against `digest`)."""
        ...

    def delete(self, digest: str) -> None: ...

    def exists(self, digest: str) -> bool: ...


class FileBlobStore:
    """Blobs as files `<root>/<first two hex digits>/<digest>`, written through a temporary file
    and renamed into place, so a reader never sees half a blob."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, digest: str) -> Path:
        digest = _checked(digest)
        return self.root / digest[:2] / digest

    def put(self, digest: str, data: bytes) -> None:
        path = self._path(digest)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, digest: str) -> bytes | None:
        try:
            return self._path(digest).read_bytes()
        except FileNotFoundError:
            return None

    def delete(self, digest: str) -> None:
        self._path(digest).unlink(missing_ok=True)

    def exists(self, digest: str) -> bool:
        return self._path(digest).is_file()


class S3BlobStore:
    """Blobs as objects `<prefix><digest>` in one bucket of an S3-compatible store."""

    def __init__(self, client: Any, bucket: str, prefix: str = "documents/") -> None:
        self.client, self.bucket, self.prefix = client, bucket, prefix

    @classmethod
    def from_settings(cls, settings: BackendSettings) -> S3BlobStore:
        if not settings.s3_bucket:
            raise BlobStoreError("SCF_S3_BUCKET is required when SCF_DOCUMENT_STORE=s3")
        client = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint_url,
            region_name=settings.s3_region,
            aws_access_key_id=(
                settings.s3_access_key_id.get_secret_value() if settings.s3_access_key_id else None
            ),
            aws_secret_access_key=(
                settings.s3_secret_access_key.get_secret_value()
                if settings.s3_secret_access_key
                else None
            ),
            # path-style addressing: MinIO and most self-hosted stores have no bucket DNS names
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}),
        )
        return cls(client, settings.s3_bucket, settings.s3_prefix)

    def _key(self, digest: str) -> str:
        return self.prefix + _checked(digest)

    def put(self, digest: str, data: bytes) -> None:
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=self._key(digest),
                Body=data,
                ContentType="application/octet-stream",
            )
        except (BotoCoreError, ClientError) as exc:
            raise BlobStoreError(f"the document store refused to store {digest}: {exc}") from exc

    def get(self, digest: str) -> bytes | None:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self._key(digest))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise BlobStoreError(f"the document store refused to read {digest}: {exc}") from exc
        except BotoCoreError as exc:
            raise BlobStoreError(f"the document store is unreachable: {exc}") from exc
        body: bytes = answer["Body"].read()
        return body

    def delete(self, digest: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(digest))
        except (BotoCoreError, ClientError) as exc:
            raise BlobStoreError(f"the document store refused to delete {digest}: {exc}") from exc

    def exists(self, digest: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(digest))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return False
            raise BlobStoreError(f"the document store refused to look up {digest}: {exc}") from exc
        return True


def open_blob_store(settings: BackendSettings, *, default_dir: Path) -> BlobStore:
    """The store the settings choose; the filesystem one under `SCF_DOCUMENT_DIR`, else
    `default_dir` (beside the databases)."""
    if settings.document_store == "s3":
        return S3BlobStore.from_settings(settings)
    return FileBlobStore(settings.document_dir or default_dir)
