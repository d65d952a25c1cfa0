"""Files and requests the attachment tests share: one of each accepted type, an executable,
uploads, registrations naming uploads, and verification."""

from __future__ import annotations

import hashlib
import io
import zipfile
from typing import Any

from tests.backend.conftest import YUAN, Api, invoice

PDF = (
    b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n" + b"stream of an invoice\n" * 40 + b"%%EOF\n"
)
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + b"\x11" * 64 + b"\xff\xd9"
TIFF = b"II*\x00\x08\x00\x00\x00" + b"\x22" * 64
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 64


def zip_with(name: str, text: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(name, text)
    return out.getvalue()


OFD = zip_with("OFD.xml", "<ofd:OFD xmlns:ofd='http://www.ofdspec.org/2016'/>")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def upload(api: Api, who: str, data: bytes, name: str = "file.pdf", declared: str = "") -> Any:
    declared = declared or "application/octet-stream"
    return api.as_(who).post("/v1/attachments", files={"file": (name, data, declared)})


def uploaded(api: Api, who: str, data: bytes, name: str = "file.pdf") -> str:
    r = upload(api, who, data, name)
    assert r.status_code == 201, r.text
    return str(r.json()["sha256"])


def register(api: Api, number: str, files: list[tuple[str, str]], amount: int = 5000) -> Any:
    a = api.addresses
    body = invoice(a["tier1"], a["core"], number, amount * YUAN)
    body["attachments"] = [{"sha256": s, "kind": k} for s, k in files]
    return api.as_("tier1").post("/v1/invoices?wait=true", json=body)


def verify(api: Api, who: str, data: bytes, source: str = "mirror") -> Any:
    r = api.as_(who).post(
        "/v1/documents/verify", params={"source": source}, files={"file": ("x", data)}
    )
    assert r.status_code == 200, r.text
    return r.json()


def chain_invoice_hash(api: Api, root_id: int) -> str:
    """The root's invoice hash as the contract holds it."""
    fn = api.rt.contracts.receivables.functions.rootOf(root_id)
    fields = [c["name"] for c in fn.abi["outputs"][0]["components"]]
    return "0x" + bytes(dict(zip(fields, fn.call(), strict=True))["invoiceHash"]).hex()
