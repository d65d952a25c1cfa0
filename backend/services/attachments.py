"""The documents behind a receivable: uploads, the attachments of an invoice, who sees them,
downloads checked against their sha-256, and "does this file match the ledger".

A supplier (or a core enterprise issuing a payable) uploads its files first; they are held for
it alone (`Upload`) until an invoice names them, or the keeper purges them. The invoice's
canonical document lists every named file (sha-256, kind, size, type, name), so the keccak on
the ledger covers each file's hash. The ledger's hash is fixed at registration: a file added
later is a *supplementary* attachment, recorded off the ledger and marked not covered."""

from __future__ import annotations

import io
import json
import logging
import unicodedata
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import puremagic
from eth_utils.address import to_checksum_address
from sqlalchemy import delete
from sqlmodel import Session, col, exists, select

from backend.blobstore import BlobStore, sha256_hex
from backend.errors import (
    AttachmentTooLarge,
    Conflict,
    ContentNotAccepted,
    Forbidden,
    InvalidInput,
    NotFound,
)
from backend.models import Alert, InvoiceAttachment, InvoiceDocument, Upload, as_utc, utcnow
from backend.permissions import Permission
from backend.runtime import Runtime
from backend.schemas import (
    AttachmentOut,
    AttachmentRef,
    InvoiceAttachmentsOut,
    UploadOut,
    VerifyMatch,
    VerifyOut,
)
from backend.services import action_log
from backend.services.context import Principal
from backend.services.directory import names_for
from backend.services.documents import document_hash
from backend.services.views import open_financing_pieces, root_row
from chain.enums import PieceStatus, Role
from indexer.models import Offer, Piece

log = logging.getLogger(__name__)

MAX_FILE_NAME = 200

# -- what a file is, by its bytes ------------------------------------------------------------

#: The content types an attachment may be: documents and scans, found in the bytes.
ACCEPTED_TYPES = frozenset({"application/pdf", "image/png", "image/jpeg", "image/tiff"})
#: The Chinese fully digital e-invoice (OFD, GB/T 33190) is a zip with OFD.xml at its root;
#: any other zip (an office file, an archive of anything) is refused.
OFD = "application/ofd"
OFD_ENTRY = "OFD.xml"
NAMED_TYPES = "PDF, PNG, JPEG, TIFF or OFD"


def content_type_of(data: bytes) -> str:
    """The content type of `data` read from its magic bytes (the signatures that match best),
    or ContentNotAccepted: a renamed executable or an arbitrary zip is refused, whatever it is
    called or declared to be."""
    try:
        found = puremagic.magic_string(data)
    except (puremagic.PureError, ValueError):
        found = []
    best = max((m.confidence for m in found), default=0.0)
    top: set[str] = {str(m.mime_type) for m in found if m.confidence == best}
    for content_type in sorted(top & ACCEPTED_TYPES):
        return content_type
    if "application/zip" in top and _is_ofd(data):
        return OFD
    named = [m for m in found if m.mime_type] or found
    seen = named[0].name if named else "of no known type"
    raise ContentNotAccepted(
        f"an attachment must be a {NAMED_TYPES} file, by its content; this one is {seen}",
        details={"accepted": sorted([*ACCEPTED_TYPES, OFD]), "found": seen},
    )


def _is_ofd(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return OFD_ENTRY in archive.namelist()
    except zipfile.BadZipFile:
        return False


def clean_file_name(name: str | None) -> str:
    """The name as the uploader gave it, without any folder, control characters or excess
    length (it is shown, and part of the canonical document; it decides nothing)."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(
        c for c in unicodedata.normalize("NFC", base) if unicodedata.category(c)[0] != "C"
    )
    return base.strip()[:MAX_FILE_NAME] or "attachment"


# -- uploads ---------------------------------------------------------------------------------


def read_capped(stream: io.BufferedIOBase | Any, max_bytes: int) -> bytes:
    """The whole stream, or AttachmentTooLarge as soon as it is past `max_bytes`."""
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise AttachmentTooLarge(max_bytes)
    return bytes(data)


def upload_out(upload: Upload, retention: timedelta) -> UploadOut:
    return UploadOut(
        sha256=upload.sha256,
        size=upload.size,
        content_type=upload.content_type,
        file_name=upload.file_name,
        uploaded_at=as_utc(upload.created_at),
        expires_at=as_utc(upload.created_at) + retention,
    )


def _retention(rt: Runtime) -> timedelta:
    return timedelta(hours=rt.settings.upload_retention_hours)


def upload(
    *, rt: Runtime, session: Session, me: Principal, data: bytes, file_name: str | None
) -> UploadOut:
    """Hold `data` for `me` under its sha-256. The same bytes again refresh the upload (its
    name, its time) and store the bytes again (a lost blob comes back)."""
    me.require(Permission.PREPARE_INVOICES)
    if not data:
        raise InvalidInput("the file is empty", code="AttachmentEmpty")
    if len(data) > rt.settings.max_attachment_bytes:
        raise AttachmentTooLarge(rt.settings.max_attachment_bytes)
    content_type = content_type_of(data)
    digest = sha256_hex(data)
    row = session.exec(
        select(Upload).where(Upload.owner == me.address, Upload.sha256 == digest)
    ).first()
    new = row is None
    row = row or Upload(
        owner=me.address, sha256=digest, size=len(data), content_type=content_type, file_name=""
    )
    row.file_name = clean_file_name(file_name)
    row.created_at = utcnow()
    session.add(row)
    action_log.record(
        session,
        member=me.address,
        user=me.login,
        action="document.upload",
        result=action_log.OK,
        source_ip=me.source_ip,
        target=digest,
        details={"size": len(data), "content_type": content_type, "file_name": row.file_name},
    )
    session.commit()
    # stored after the row is committed: a purge that ran meanwhile saw the row and kept it
    try:
        rt.blobs.put(digest, data)
    except Exception:
        if new:
            session.delete(row)
            session.commit()
        raise
    log.info("upload stored", extra={"owner": me.address, "sha256": digest, "size": len(data)})
    return upload_out(row, _retention(rt))


def list_uploads(*, rt: Runtime, session: Session, me: Principal) -> list[UploadOut]:
    rows = session.exec(
        select(Upload).where(Upload.owner == me.address).order_by(col(Upload.created_at))
    ).all()
    return [upload_out(u, _retention(rt)) for u in rows]


def resolve(session: Session, owner: str, refs: list[AttachmentRef]) -> list[dict[str, Any]]:
    """The canonical entries of the files an invoice names, each one an upload of `owner`'s:
    another member's upload is as unknown as none (it would tell that someone holds the file)."""
    if not refs:
        return []
    seen: set[str] = set()
    for ref in refs:
        if ref.sha256 in seen:
            raise InvalidInput(
                f"the invoice names the file {ref.sha256} twice",
                code="AttachmentNamedTwice",
                details={"sha256": ref.sha256},
            )
        seen.add(ref.sha256)
    uploads = {
        u.sha256: u
        for u in session.exec(
            select(Upload).where(Upload.owner == owner, col(Upload.sha256).in_(seen))
        )
    }
    entries = []
    for ref in refs:
        found = uploads.get(ref.sha256)
        if found is None:
            raise InvalidInput(
                f"you have no upload of the file {ref.sha256}: upload it first "
                "(POST /v1/attachments), then name it",
                code="AttachmentNotUploaded",
                details={"sha256": ref.sha256},
            )
        entries.append(
            {
                "sha256": found.sha256,
                "kind": ref.kind,
                "size": found.size,
                "content_type": found.content_type,
                "file_name": found.file_name,
            }
        )
    return entries


def covered_rows(document: InvoiceDocument, added_by: str) -> list[InvoiceAttachment]:
    """The attachment rows of a stored document's listed files (its id must be set)."""
    assert document.id is not None, "the document is stored first"
    return [
        InvoiceAttachment(
            invoice_id=document.id,
            sha256=a["sha256"],
            kind=a["kind"],
            size=a["size"],
            content_type=a["content_type"],
            file_name=a["file_name"],
            covered=True,
            added_by=added_by,
        )
        for a in document.document.get("attachments", [])
    ]


# -- who sees them ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Sight:
    """Who may see an invoice's documents, read once per request: the open financing pieces
    (an off-chain table joined to the mirror) are shared by every invoice it checks."""

    rt: Runtime
    session: Session
    mirror: Session
    me: Principal
    financing_pieces: frozenset[int]

    @classmethod
    def of(cls, rt: Runtime, session: Session, mirror: Session, me: Principal) -> Sight:
        pieces = (
            frozenset(open_financing_pieces(session, mirror, rt))
            if me.has(Role.FINANCIER) and not me.sees_all
            else frozenset()
        )
        return cls(rt, session, mirror, me, pieces)

    def sees(self, doc: InvoiceDocument) -> bool:
        """The one rule: the debtor, the original supplier, every current holder of a piece of
        the receivable, a financier that a financing request for one of its pieces was shown to
        (one open now: every financier sees open requests; or one it made an offer on, which
        the ledger keeps), auditors and regulators."""
        me = self.me
        if me.sees_all or me.address in (doc.seller, doc.buyer):
            return True
        if doc.root_id is None:
            return False
        chain_id, root_id = self.rt.chain_id, doc.root_id
        pieces = select(Piece.piece_id).where(Piece.chain_id == chain_id, Piece.root_id == root_id)
        holds = select(Piece.piece_id).where(
            Piece.chain_id == chain_id,
            Piece.root_id == root_id,
            Piece.holder == me.address,
            Piece.status == int(PieceStatus.ACTIVE),
        )
        if self.mirror.exec(select(exists(holds))).one():
            return True
        if not me.has(Role.FINANCIER):
            return False
        offered = select(Offer.offer_id).where(
            Offer.chain_id == chain_id,
            Offer.financier == me.address,
            col(Offer.piece_id).in_(pieces),
        )
        if self.mirror.exec(select(exists(offered))).one():
            return True
        if self.financing_pieces:
            asked = pieces.where(col(Piece.piece_id).in_(self.financing_pieces))
            return bool(self.mirror.exec(select(exists(asked))).one())
        return False

    def invoice(self, invoice_id: int) -> InvoiceDocument:
        """The invoice if `me` may see its documents, else NotFound (never Forbidden: that
        would tell that it exists)."""
        doc = self.session.get(InvoiceDocument, invoice_id)
        if doc is None or not self.sees(doc):
            raise NotFound(f"no invoice {invoice_id}")
        return doc


def _names(session: Session, addresses: Iterable[str]) -> dict[str, str]:
    return {to_checksum_address(a): n for a, n in names_for(session, addresses).items()}


def _attachments_of(session: Session, invoice_id: int) -> list[InvoiceAttachment]:
    return list(
        session.exec(
            select(InvoiceAttachment)
            .where(InvoiceAttachment.invoice_id == invoice_id)
            .order_by(col(InvoiceAttachment.id))
        )
    )


def attachment_out(a: InvoiceAttachment) -> AttachmentOut:
    return AttachmentOut(
        sha256=a.sha256,
        kind=a.kind,
        size=a.size,
        content_type=a.content_type,
        file_name=a.file_name,
        covered=a.covered,
        added_by=a.added_by,
        added_at=as_utc(a.created_at),
        download=f"/v1/invoices/{a.invoice_id}/attachments/{a.sha256}",
    )


def listing(
    *, rt: Runtime, session: Session, mirror: Session, me: Principal, invoice_id: int
) -> InvoiceAttachmentsOut:
    doc = Sight.of(rt, session, mirror, me).invoice(invoice_id)
    rows = _attachments_of(session, invoice_id)
    return InvoiceAttachmentsOut(
        invoice_id=invoice_id,
        root_id=doc.root_id,
        invoice_hash=doc.invoice_hash,
        canonical=doc.canonical,
        attachments=[attachment_out(a) for a in rows],
        names=_names(session, [doc.seller, doc.buyer, *(a.added_by for a in rows)]),
    )


def add_supplementary(
    *,
    rt: Runtime,
    session: Session,
    mirror: Session,
    me: Principal,
    invoice_id: int,
    ref: AttachmentRef,
) -> AttachmentOut:
    """A file added after registration by a party to the invoice (seller or buyer), from its
    own uploads: recorded off the ledger, marked not covered (the ledger's hash is fixed)."""
    me.require(Permission.PREPARE_INVOICES)
    doc = Sight.of(rt, session, mirror, me).invoice(invoice_id)
    if me.address not in (doc.seller, doc.buyer):
        # it may see the invoice (a holder, an auditor): no secret is kept by saying so
        raise Forbidden(
            f"only the seller or the buyer of invoice {doc.number} adds files to it",
            code="NotInvoiceParty",
        )
    existing = session.exec(
        select(InvoiceAttachment).where(
            InvoiceAttachment.invoice_id == invoice_id, InvoiceAttachment.sha256 == ref.sha256
        )
    ).first()
    if existing is not None:
        raise Conflict(
            f"invoice {doc.number} already has the file {ref.sha256}",
            code="AttachmentAlreadyAttached",
            details={"sha256": ref.sha256, "covered": existing.covered},
        )
    (entry,) = resolve(session, me.address, [ref])
    row = InvoiceAttachment(invoice_id=invoice_id, covered=False, added_by=me.address, **entry)
    session.add(row)
    action_log.record(
        session,
        member=me.address,
        user=me.login,
        action="document.attach",
        result=action_log.OK,
        source_ip=me.source_ip,
        target=ref.sha256,
        details={"invoice_id": invoice_id, "kind": ref.kind, "covered": False},
    )
    session.commit()
    return attachment_out(row)


# -- downloads and verification ---------------------------------------------------------------


def download(
    *, rt: Runtime, session: Session, mirror: Session, me: Principal, invoice_id: int, sha256: str
) -> tuple[InvoiceAttachment, bytes]:
    """The file's row and bytes; the bytes are refused unless their sha-256 is the file's."""
    Sight.of(rt, session, mirror, me).invoice(invoice_id)
    row = session.exec(
        select(InvoiceAttachment).where(
            InvoiceAttachment.invoice_id == invoice_id, InvoiceAttachment.sha256 == sha256
        )
    ).first()
    if row is None:
        raise NotFound(f"invoice {invoice_id} has no file {sha256}")
    return row, checked_blob(rt, session, sha256)


def checked_blob(rt: Runtime, session: Session, sha256: str) -> bytes:
    data = rt.blobs.get(sha256)
    problem = "missing" if data is None else "corrupted" if sha256_hex(data) != sha256 else None
    if problem is None:
        assert data is not None
        return data
    log.error("stored document %s", problem, extra={"sha256": sha256})
    session.add(
        Alert(
            kind=f"document_{problem}",
            message=f"the stored copy of {sha256} is {problem}",
            details={"sha256": sha256},
        )
    )
    session.commit()
    raise Conflict(
        f"the stored copy of the file {sha256} is {problem}: it is not served; the operator "
        "has been alerted, and the uploader can upload the original again",
        code="StoredDocumentCorrupted" if problem == "corrupted" else "StoredDocumentMissing",
        details={"sha256": sha256},
    )


LedgerSource = Literal["mirror", "chain"]


def _ledger_hash(rt: Runtime, mirror: Session, root_id: int, source: LedgerSource) -> str | None:
    if source == "chain":
        fn = rt.contracts.receivables.functions.rootOf(root_id)
        fields = [c["name"] for c in fn.abi["outputs"][0]["components"]]
        on_chain = dict(zip(fields, fn.call(), strict=True))
        value = bytes(on_chain["invoiceHash"])
        return None if value == bytes(32) else "0x" + value.hex()
    root = root_row(mirror, rt, root_id)
    return None if root is None else str(root.invoice_hash)


def verify(
    *,
    rt: Runtime,
    session: Session,
    mirror: Session,
    me: Principal,
    data: bytes,
    source: LedgerSource,
) -> VerifyOut:
    """Which invoices `me` may see hold this file, and for each whether the ledger covers it:
    its sha-256 is listed in the canonical document, and that text's keccak is the root's
    invoice hash on the ledger (the mirror's, or the chain's own with source=chain)."""
    digest = sha256_hex(data)
    rows = session.exec(select(InvoiceAttachment).where(InvoiceAttachment.sha256 == digest)).all()
    sight = Sight.of(rt, session, mirror, me)
    matches: list[VerifyMatch] = []
    for row in sorted(rows, key=lambda r: r.invoice_id):
        doc = session.get(InvoiceDocument, row.invoice_id)
        if doc is None or not sight.sees(doc):
            continue
        listed = digest in {
            a.get("sha256") for a in json.loads(doc.canonical).get("attachments", [])
        }
        text_hash = document_hash(doc.canonical)
        ledger = _ledger_hash(rt, mirror, doc.root_id, source) if doc.root_id else None
        matches.append(
            VerifyMatch(
                invoice_id=row.invoice_id,
                root_id=doc.root_id,
                number=doc.number,
                seller=doc.seller,
                buyer=doc.buyer,
                kind=row.kind,
                covered=row.covered,
                listed_in_document=listed,
                document_hash=text_hash,
                ledger_invoice_hash=ledger,
                matches_ledger=listed and ledger is not None and ledger.lower() == text_hash,
            )
        )
    return VerifyOut(
        sha256=digest,
        size=len(data),
        source=source,
        matches_ledger=any(m.matches_ledger for m in matches),
        matches=matches,
        names=_names(session, [a for m in matches for a in (m.seller, m.buyer)]),
    )


# -- the keeper's purge ------------------------------------------------------------------------


def purge_uploads(*, session: Session, blobs: BlobStore, before: datetime) -> dict[str, int]:
    """Delete uploads older than `before`, and the bytes of those no upload or invoice holds
    any more. An upload an invoice named lives on as the invoice's attachment."""
    old = session.exec(select(Upload.sha256).where(col(Upload.created_at) < before)).all()
    if not old:
        return {"uploads": 0, "blobs": 0}
    session.execute(delete(Upload).where(col(Upload.created_at) < before))
    session.commit()
    kept = set(session.exec(select(Upload.sha256).where(col(Upload.sha256).in_(set(old))))) | set(
        session.exec(
            select(InvoiceAttachment.sha256).where(col(InvoiceAttachment.sha256).in_(set(old)))
        )
    )
    gone = set(old) - kept
    for digest in gone:
        blobs.delete(digest)
    return {"uploads": len(old), "blobs": len(gone)}
