"""The size cap on attachments: a file past it is refused with 413 AttachmentTooLarge,
whether the route reads it or its Content-Length gives it away first."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from backend.settings import BackendSettings
from tests.backend.attachment_files import PDF, upload
from tests.backend.conftest import Api, make_api


@pytest.fixture(scope="module")
def small_api() -> Iterator[Api]:
    """Attachments of 4 KiB at most."""
    yield from make_api(
        BackendSettings(profile="embedded", wait_timeout_seconds=30, max_attachment_bytes=4096)
    )


def test_a_file_over_the_cap_is_refused_with_413(small_api: Api) -> None:
    assert upload(small_api, "tier1", PDF[:8] + b"x" * (4096 - 8)).status_code == 201
    # just past the cap: the route's own check
    r = upload(small_api, "tier1", PDF[:8] + b"x" * 4089)
    assert r.status_code == 413, r.text
    assert r.json()["code"] == "AttachmentTooLarge"
    assert r.json()["details"]["max_bytes"] == 4096
    assert "4096 bytes" in r.json()["message"]
    # far past it: refused by its Content-Length before the body is read, with the same code
    r = upload(small_api, "tier1", PDF[:8] + b"x" * 200_000)
    assert r.status_code == 413 and r.json()["code"] == "AttachmentTooLarge", r.text
