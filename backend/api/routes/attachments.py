"""/v1 attachments: uploads, the files behind an invoice, downloads, and "does this file match
the ledger"."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Path, Query, UploadFile
from fastapi.responses import Response

from backend.api.deps import CurrentMember, InvoiceParty, MirrorDep, RuntimeDep, SessionDep
from backend.api.errors import ERROR_RESPONSES
from backend.api.params import RowId
from backend.errors import InvalidInput
from backend.runtime import Runtime
from backend.schemas import (
    AttachmentIn,
    AttachmentOut,
    AttachmentRef,
    InvoiceAttachmentsOut,
    UploadOut,
    VerifyOut,
)
from backend.services import attachments as svc

router = APIRouter(prefix="/v1", tags=["documents"], responses=ERROR_RESPONSES)

#: The paths that take a file: their body may be an attachment's size (BodyLimit).
UPLOAD_PATHS = ("/v1/attachments", "/v1/documents/verify")

FileField = Annotated[
    UploadFile | None, File(description="The file, as the multipart field `file`.")
]
Sha256Path = Annotated[str, Path(pattern=r"^[0-9a-fA-F]{64}$", description="The file's sha-256.")]


def _read(rt: Runtime, file: UploadFile | None) -> tuple[bytes, str | None]:
    if file is None:
        raise InvalidInput(
            "send the file as the multipart/form-data field `file`", code="FileMissing"
        )
    return svc.read_capped(file.file, rt.settings.max_attachment_bytes), file.filename


@router.post("/attachments", response_model=UploadOut, status_code=201)
def upload(
    me: InvoiceParty, rt: RuntimeDep, session: SessionDep, file: FileField = None
) -> UploadOut:
    """Upload a file for an invoice you are about to register (or a supplementary file): a PDF,
    PNG, JPEG, TIFF or OFD, by its content. It is held for you alone, by its sha-256, until an
    invoice names it (`attachments` of POST /v1/invoices or /v1/payables) or it expires."""
    data, name = _read(rt, file)
    return svc.upload(rt=rt, session=session, me=me, data=data, file_name=name)


@router.get("/attachments", response_model=list[UploadOut])
def list_uploads(me: InvoiceParty, rt: RuntimeDep, session: SessionDep) -> list[UploadOut]:
    """Your uploads still held (named by an invoice or not), with when they expire."""
    return svc.list_uploads(rt=rt, session=session, me=me)


@router.get("/invoices/{invoice_id}/attachments", response_model=InvoiceAttachmentsOut)
def list_attachments(
    invoice_id: RowId, me: CurrentMember, rt: RuntimeDep, session: SessionDep, mirror: MirrorDep
) -> InvoiceAttachmentsOut:
    """The files behind an invoice, and the canonical document that the ledger's invoice hash
    is the keccak of. Seen by its debtor and supplier, the current holders of its pieces, the
    financiers it was offered to, auditors and regulators; anyone else: 404."""
    return svc.listing(rt=rt, session=session, mirror=mirror, me=me, invoice_id=invoice_id)


@router.post("/invoices/{invoice_id}/attachments", response_model=AttachmentOut, status_code=201)
def add_attachment(
    invoice_id: RowId,
    body: AttachmentIn,
    me: InvoiceParty,
    rt: RuntimeDep,
    session: SessionDep,
    mirror: MirrorDep,
) -> AttachmentOut:
    """Add a supplementary file (one of your uploads) to a registered invoice, e.g. the
    receiving report. The ledger's hash was fixed at registration: the file is recorded off
    the ledger and marked `covered: false`."""
    ref = AttachmentRef(sha256=body.sha256, kind=body.kind)
    return svc.add_supplementary(
        rt=rt, session=session, mirror=mirror, me=me, invoice_id=invoice_id, ref=ref
    )


@router.get(
    "/invoices/{invoice_id}/attachments/{sha256}",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def download(
    invoice_id: RowId,
    sha256: Sha256Path,
    me: CurrentMember,
    rt: RuntimeDep,
    session: SessionDep,
    mirror: MirrorDep,
) -> Response:
    """The file's bytes, served only if their sha-256 is the file's (a corrupted copy is
    refused, 409 StoredDocumentCorrupted). `X-Content-SHA256` carries it for the client to
    check, against the canonical document of GET /v1/invoices/{id}/attachments."""
    row, data = svc.download(
        rt=rt, session=session, mirror=mirror, me=me, invoice_id=invoice_id, sha256=sha256.lower()
    )
    return Response(
        data,
        media_type=row.content_type,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(row.file_name)}",
            "X-Content-SHA256": row.sha256,
            "ETag": f'"{row.sha256}"',
            "Cache-Control": "private, no-store",
        },
    )


@router.post("/documents/verify", response_model=VerifyOut)
def verify(
    me: CurrentMember,
    rt: RuntimeDep,
    session: SessionDep,
    mirror: MirrorDep,
    file: FileField = None,
    source: Annotated[
        svc.LedgerSource,
        Query(description="Where to read the root's invoice hash: the mirror, or the chain."),
    ] = "mirror",
) -> VerifyOut:
    """Does this file match the ledger? The invoices you may see that hold it, and for each
    whether its sha-256 is in the canonical document whose keccak is the root's invoice hash."""
    data, _ = _read(rt, file)
    return svc.verify(rt=rt, session=session, mirror=mirror, me=me, data=data, source=source)
