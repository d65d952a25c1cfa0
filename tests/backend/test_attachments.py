"""The documents behind a receivable (issue 14): uploads typed by their content, invoices
naming only their caller's uploads (alone and in a batch), payables with the debtor's files,
supplementary files off the ledger, and a changed canonical document no longer matching."""

from __future__ import annotations

import json

import pytest
from eth_utils.crypto import keccak
from sqlmodel import Session

from backend.models import InvoiceDocument
from tests.backend.attachment_files import (
    EXE,
    JPEG,
    OFD,
    PDF,
    PNG,
    TIFF,
    register,
    sha,
    upload,
    uploaded,
    verify,
    zip_with,
)
from tests.backend.conftest import YUAN, Api, invoice

# -- uploads: type by content, size cap -------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "name", "declared", "found"),
    [
        (PDF, "scan.jpg", "image/jpeg", "application/pdf"),
        (PNG, "invoice.pdf", "application/pdf", "image/png"),
        (JPEG, "delivery.png", "image/png", "image/jpeg"),
        (TIFF, "contract.txt", "text/plain", "image/tiff"),
        (OFD, "einvoice.zip", "application/zip", "application/ofd"),
    ],
)
def test_an_upload_is_typed_by_its_content_not_its_name_or_declared_type(
    api: Api, data: bytes, name: str, declared: str, found: str
) -> None:
    r = upload(api, "tier1", data, name, declared)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["content_type"] == found
    assert body["sha256"] == sha(data) and body["size"] == len(data)
    assert body["file_name"] == name
    mine = {u["sha256"] for u in api.as_("tier1").get("/v1/attachments").json()}
    assert sha(data) in mine
    assert sha(data) not in {u["sha256"] for u in api.as_("tier2").get("/v1/attachments").json()}


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (EXE, "invoice.pdf"),  # a renamed executable
        (zip_with("word/document.xml", "<w/>"), "contract.ofd"),  # a zip that is no OFD
        (b"just some text, not a document", "notes.pdf"),
    ],
)
def test_a_file_of_another_type_is_refused_whatever_its_name(
    api: Api, data: bytes, name: str
) -> None:
    r = upload(api, "tier1", data, name, "application/pdf")
    assert r.status_code == 415, r.text
    body = r.json()
    assert body["code"] == "AttachmentTypeNotAccepted"
    assert "PDF, PNG, JPEG, TIFF or OFD" in body["message"]
    assert "application/pdf" in body["details"]["accepted"]


def test_an_executable_is_named_as_such_in_the_refusal(api: Api) -> None:
    r = upload(api, "tier1", EXE, "invoice.pdf", "application/pdf")
    assert "Windows Executable" in r.json()["message"], r.text


def test_an_upload_without_a_file_or_empty_is_refused(api: Api) -> None:
    r = api.as_("tier1").post("/v1/attachments", data={"other": "x"})
    assert r.status_code == 422 and r.json()["code"] == "FileMissing", r.text
    r = upload(api, "tier1", b"", "empty.pdf")
    assert r.status_code == 422 and r.json()["code"] == "AttachmentEmpty", r.text


def test_only_invoice_parties_upload(api: Api) -> None:
    r = upload(api, "bank", PDF)
    assert r.status_code == 403 and r.json()["code"] == "MissingRole", r.text


# -- the ledger covers the attachments ---------------------------------------------------------


def test_an_invoice_without_attachments_hashes_as_before(api: Api) -> None:
    a = api.addresses
    body = invoice(a["tier1"], a["core"], "INV-PLAIN-1", 1000 * YUAN)
    r = api.as_("tier1").post("/v1/invoices?wait=true", json=body)
    assert r.status_code == 202, r.text
    made = r.json()["invoice"]
    assert "attachments" not in made["document"]
    with Session(api.rt.engine) as session:
        doc = session.get(InvoiceDocument, made["id"])
        assert doc is not None
    expected = json.dumps(made["document"], sort_keys=True, separators=(",", ":"))
    assert doc.canonical == expected
    assert made["invoice_hash"] == "0x" + keccak(expected.encode()).hex()


def test_an_invoice_may_name_only_its_callers_own_uploads(api: Api) -> None:
    theirs = uploaded(api, "tier2", PDF + b"%tier2's")
    unknown = sha(b"never uploaded")
    for missing in (theirs, unknown):
        r = register(api, f"INV-NOT-MINE-{missing[:6]}", [(missing, "invoice")])
        assert r.status_code == 422, r.text
        body = r.json()
        assert body["code"] == "AttachmentNotUploaded"  # someone else's upload is as unknown
        assert body["details"] == {"sha256": missing}
        assert missing in body["message"] and "POST /v1/attachments" in body["message"]
    mine = uploaded(api, "tier1", PDF + b"%twice")
    r = register(api, "INV-TWICE", [(mine, "invoice"), (mine, "delivery_note")])
    assert r.status_code == 422 and r.json()["code"] == "AttachmentNamedTwice", r.text


def test_a_batch_refuses_only_the_invoice_naming_another_suppliers_upload(api: Api) -> None:
    a = api.addresses
    mine = uploaded(api, "tier1", PDF + b"%batch-mine")
    theirs = uploaded(api, "tier2", PDF + b"%batch-theirs")
    good = invoice(a["tier1"], a["core"], "INV-BATCH-ATT-1", 1000 * YUAN)
    good["attachments"] = [{"sha256": mine, "kind": "invoice"}]
    bad = invoice(a["tier1"], a["core"], "INV-BATCH-ATT-2", 1000 * YUAN)
    bad["attachments"] = [{"sha256": theirs, "kind": "invoice"}]
    r = api.as_("tier1").post("/v1/invoices/batch?wait=true", json={"invoices": [good, bad]})
    assert r.status_code == 202, r.text
    first, second = r.json()["results"]
    assert second["error"]["code"] == "AttachmentNotUploaded"
    made = first["invoice"]
    assert [x["sha256"] for x in made["document"]["attachments"]] == [mine]
    listed = api.as_("core").get(f"/v1/invoices/{made['id']}/attachments").json()
    assert [(x["sha256"], x["covered"]) for x in listed["attachments"]] == [(mine, True)]
    v = verify(api, "core", PDF + b"%batch-mine")
    assert v["matches_ledger"] is True, v


def test_a_payable_issued_by_the_debtor_carries_the_debtors_uploads(api: Api) -> None:
    a = api.addresses
    contract = uploaded(api, "core", TIFF + b"contract", "purchase contract.tif")
    body = invoice(a["tier1"], a["core"], "PAY-ATT-1", 2000 * YUAN)
    body["attachments"] = [{"sha256": contract, "kind": "purchase_contract"}]
    r = api.as_("core").post("/v1/payables?wait=true", json=body)
    assert r.status_code == 202, r.text
    made = r.json()["invoice"]
    got = api.as_("tier1").get(f"/v1/invoices/{made['id']}/attachments/{contract}")
    assert got.status_code == 200 and got.content == TIFF + b"contract"
    assert verify(api, "tier1", TIFF + b"contract")["matches_ledger"] is True


def test_a_supplementary_file_is_recorded_off_the_ledger_and_marked_not_covered(
    api: Api,
) -> None:
    r = register(api, "INV-SUPP-1", [(uploaded(api, "tier1", PDF + b"%supp"), "invoice")])
    assert r.status_code == 202, r.text
    made = r.json()["invoice"]
    url = f"/v1/invoices/{made['id']}/attachments"
    report = uploaded(api, "core", JPEG + b"received 100 coils", "receiving report.jpg")
    r = api.as_("core").post(url, json={"sha256": report, "kind": "receiving_report"})
    assert r.status_code == 201, r.text
    assert r.json()["covered"] is False and r.json()["kind"] == "receiving_report"
    r = api.as_("core").post(url, json={"sha256": report, "kind": "receiving_report"})
    assert r.status_code == 409 and r.json()["code"] == "AttachmentAlreadyAttached", r.text
    # the invoice hash did not change, and verify says the file is not covered by it
    listed = api.as_("tier1").get(url).json()
    assert listed["invoice_hash"] == made["invoice_hash"]
    assert [x["covered"] for x in listed["attachments"]] == [True, False]
    v = verify(api, "tier1", JPEG + b"received 100 coils")
    assert v["matches_ledger"] is False
    (match,) = v["matches"]
    assert match["covered"] is False and match["listed_in_document"] is False
    assert match["document_hash"] == match["ledger_invoice_hash"]  # the document itself is fine
    # only the invoice's parties add files; one that cannot see it learns nothing
    r = api.as_("tier2").post(url, json={"sha256": report, "kind": "other"})
    assert r.status_code == 404, r.text
    other = uploaded(api, "core", PNG + b"unknown")
    r = api.as_("core").post(
        f"/v1/invoices/{10**9}/attachments", json={"sha256": other, "kind": "other"}
    )
    assert r.status_code == 404, r.text
    r = api.as_("core").post(url, json={"sha256": sha(b"nothing"), "kind": "other"})
    assert r.status_code == 422 and r.json()["code"] == "AttachmentNotUploaded", r.text


# -- the stored bytes are checked --------------------------------------------------------------


def test_a_changed_canonical_document_no_longer_matches_the_ledger(api: Api) -> None:
    data = PDF + b"%doc-tamper"
    r = register(api, "INV-DOC-TAMPER", [(uploaded(api, "tier1", data), "invoice")])
    assert r.status_code == 202, r.text
    made = r.json()["invoice"]
    with Session(api.rt.engine) as session:
        doc = session.get(InvoiceDocument, made["id"])
        assert doc is not None
        doc.canonical = doc.canonical.replace('"amount":500000', '"amount":900000', 1)
        session.add(doc)
        session.commit()
    (match,) = verify(api, "core", data)["matches"]
    assert match["listed_in_document"] is True
    assert match["document_hash"] != match["ledger_invoice_hash"] == made["invoice_hash"]
    assert match["matches_ledger"] is False


# -- the purge of unused uploads ---------------------------------------------------------------
