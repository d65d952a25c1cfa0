"""The document store: the filesystem and an S3 API (moto's server) through the same tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.blobstore import BlobStore, BlobStoreError, FileBlobStore, open_blob_store, sha256_hex
from backend.settings import BackendSettings
from tests.backend.conftest import s3_settings


@pytest.fixture(params=["fs", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "fs":
        settings = BackendSettings(profile="embedded", document_dir=tmp_path / "docs")
    else:
        settings = s3_settings(request.getfixturevalue("s3_endpoint"))
    return open_blob_store(settings, default_dir=tmp_path / "unused")


def test_a_blob_is_stored_and_read_back_under_its_sha256(store: BlobStore) -> None:
    data = b"%PDF-1.4\n" + bytes(range(256)) * 10
    digest = sha256_hex(data)
    assert not store.exists(digest)
    assert store.get(digest) is None
    store.put(digest, data)
    store.put(digest, data)  # idempotent
    assert store.exists(digest)
    assert store.get(digest) == data
    store.delete(digest)
    assert not store.exists(digest) and store.get(digest) is None
    store.delete(digest)  # deleting what is not there is no error


def test_a_store_takes_only_a_lower_case_hex_sha256(store: BlobStore) -> None:
    for bad in ("../../etc/passwd", "A" * 64, "ab" * 31):
        with pytest.raises(ValueError, match="sha-256"):
            store.put(bad, b"x")


def test_the_filesystem_store_never_leaves_half_a_blob(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    data = b"x" * 100_000
    store.put(sha256_hex(data), data)
    leftovers = [p for p in tmp_path.rglob("*") if p.is_file() and p.name.startswith(".")]
    assert leftovers == []


def test_an_unreachable_s3_store_is_a_store_error(tmp_path: Path) -> None:
    settings = s3_settings_unreachable()
    store = open_blob_store(settings, default_dir=tmp_path)
    with pytest.raises(BlobStoreError, match="document store"):
        store.put(sha256_hex(b"x"), b"x")


def s3_settings_unreachable() -> BackendSettings:
    from pydantic import SecretStr

    return BackendSettings(
        profile="embedded",
        document_store="s3",
        s3_bucket="nowhere",
        s3_endpoint_url="http://127.0.0.1:9",  # the discard port: nothing answers
        s3_access_key_id=SecretStr("x"),
        s3_secret_access_key=SecretStr("y"),
    )


def test_the_s3_store_needs_a_bucket(tmp_path: Path) -> None:
    with pytest.raises(BlobStoreError, match="SCF_S3_BUCKET"):
        open_blob_store(
            BackendSettings(profile="embedded", document_store="s3"), default_dir=tmp_path
        )
