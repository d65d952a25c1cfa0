"""The documents behind a receivable on each document store (the filesystem, and an S3 API:
moto's server): the ledger's invoice hash covering every attachment, checked downloads, one
changed byte in the store refused, and the keeper's purge of unused uploads."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from eth_utils.crypto import keccak
from sqlalchemy import update
from sqlmodel import Session, col, select

from backend.keeper import JOBS
from backend.models import Alert, Upload, utcnow
from tests.backend.attachment_files import (
    JPEG,
    PDF,
    PNG,
    chain_invoice_hash,
    register,
    sha,
    uploaded,
    verify,
)
from tests.backend.conftest import Api, make_api, s3_settings


@pytest.fixture(scope="module", params=["fs", "s3"])
def store_api(request: pytest.FixtureRequest) -> Iterator[Api]:
    """An embedded deployment per document store."""
    if request.param == "fs":
        yield from make_api()
    else:
        yield from make_api(s3_settings(request.getfixturevalue("s3_endpoint")))


def test_the_invoice_hash_on_the_ledger_covers_every_attachment(store_api: Api) -> None:
    api = store_api
    pdf, png = PDF + b"%cover-1", PNG + b"cover-1"
    files = [(uploaded(api, "tier1", pdf, "INV-ATT-1.pdf"), "invoice")]
    files.append((uploaded(api, "tier1", png, "delivery note.png"), "delivery_note"))
    r = register(api, "INV-ATT-1", files)
    assert r.status_code == 202, r.text
    made = r.json()["invoice"]
    listed = made["document"]["attachments"]
    assert [a["sha256"] for a in listed] == sorted(s for s, _ in files)
    by_sha = {a["sha256"]: a for a in listed}
    assert by_sha[sha(pdf)] == {
        "sha256": sha(pdf),
        "kind": "invoice",
        "size": len(pdf),
        "content_type": "application/pdf",
        "file_name": "INV-ATT-1.pdf",
    }

    # the canonical text lists them, and its keccak is the root's invoice hash on chain
    out = api.as_("tier1").get(f"/v1/invoices/{made['id']}/attachments").json()
    assert "0x" + keccak(out["canonical"].encode()).hex() == made["invoice_hash"]
    assert {a["sha256"] for a in json.loads(out["canonical"])["attachments"]} == {
        sha(pdf),
        sha(png),
    }
    assert chain_invoice_hash(api, made["root_id"]) == made["invoice_hash"]
    assert [a["covered"] for a in out["attachments"]] == [True, True]
    assert out["names"][api.addresses["core"]] == "East China Motors"

    # a download is the bytes whose sha-256 the document lists
    d = api.as_("core").get(f"/v1/invoices/{made['id']}/attachments/{sha(pdf)}")
    assert d.status_code == 200, d.text
    assert d.content == pdf
    assert d.headers["content-type"] == "application/pdf"
    assert d.headers["x-content-sha256"] == sha(pdf) == sha(d.content)
    assert "INV-ATT-1.pdf" in d.headers["content-disposition"]

    # verify: the file matches the ledger, read from the mirror and from the chain itself
    for source in ("mirror", "chain"):
        v = verify(api, "core", pdf, source)
        assert v["matches_ledger"] is True, v
        (match,) = v["matches"]
        assert match["invoice_id"] == made["id"] and match["root_id"] == made["root_id"]
        assert match["listed_in_document"] and match["covered"]
        assert match["ledger_invoice_hash"] == match["document_hash"] == made["invoice_hash"]
        assert v["names"][api.addresses["tier1"]]


def test_one_byte_changed_in_the_store_is_refused_and_does_not_match_the_ledger(
    store_api: Api,
) -> None:
    api = store_api
    original = PDF + b"%tamper"
    digest = uploaded(api, "tier1", original)
    r = register(api, "INV-TAMPER-1", [(digest, "invoice")])
    assert r.status_code == 202, r.text
    made = r.json()["invoice"]
    url = f"/v1/invoices/{made['id']}/attachments/{digest}"
    tampered = bytearray(original)
    tampered[20] ^= 0x01
    api.rt.blobs.put(digest, bytes(tampered))  # someone with access to the store changes a byte

    d = api.as_("core").get(url)
    assert d.status_code == 409, d.text
    assert d.json()["code"] == "StoredDocumentCorrupted"
    assert digest in d.json()["message"]
    with Session(api.rt.engine) as session:
        kinds = session.exec(
            select(Alert.kind).where(Alert.details["sha256"].as_string() == digest)
        )
        assert "document_corrupted" in set(kinds)
    # the changed file is no file of the ledger's; the original still is
    assert verify(api, "core", bytes(tampered)) == {
        "sha256": sha(bytes(tampered)),
        "size": len(tampered),
        "source": "mirror",
        "matches_ledger": False,
        "matches": [],
        "names": {},
    }
    assert verify(api, "core", original)["matches_ledger"] is True
    # the uploader restores it by uploading the original again
    assert uploaded(api, "tier1", original) == digest
    assert api.as_("core").get(url).content == original

    api.rt.blobs.delete(digest)
    d = api.as_("core").get(url)
    assert d.status_code == 409 and d.json()["code"] == "StoredDocumentMissing", d.text
    api.rt.blobs.put(digest, original)


def test_the_keeper_purges_unused_uploads_and_keeps_the_bytes_an_invoice_holds(
    store_api: Api,
) -> None:
    api = store_api
    unused, used = PNG + b"never named", PDF + b"%named"
    unused_sha = uploaded(api, "tier1", unused)
    used_sha = uploaded(api, "tier1", used)
    r = register(api, "INV-PURGE-1", [(used_sha, "invoice")])
    assert r.status_code == 202, r.text
    made = r.json()["invoice"]
    fresh_sha = uploaded(api, "tier1", JPEG + b"uploaded just now")
    old = utcnow() - timedelta(hours=api.rt.settings.upload_retention_hours + 1)
    with Session(api.rt.engine) as session:
        session.execute(
            update(Upload)
            .where(col(Upload.sha256).in_([unused_sha, used_sha]))
            .values(created_at=old)
        )
        session.commit()

    purge = next(job for job in JOBS if job.name == "purge_uploads")
    assert purge.run(api.rt) == {"uploads": 2, "blobs": 1}
    assert not api.rt.blobs.exists(unused_sha)
    assert api.rt.blobs.exists(used_sha) and api.rt.blobs.exists(fresh_sha)
    held = {u["sha256"] for u in api.as_("tier1").get("/v1/attachments").json()}
    assert unused_sha not in held and used_sha not in held and fresh_sha in held
    # the invoice's file is still served; the purged upload can no longer be named
    d = api.as_("core").get(f"/v1/invoices/{made['id']}/attachments/{used_sha}")
    assert d.status_code == 200 and d.content == used
    r = register(api, "INV-PURGE-2", [(unused_sha, "invoice")])
    assert r.status_code == 422 and r.json()["code"] == "AttachmentNotUploaded", r.text
    assert purge.run(api.rt) == {"uploads": 0, "blobs": 0}
