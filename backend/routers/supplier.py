"""/v1 invoices, pieces, financing requests, accepting offers and claims (suppliers, holders)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from sqlmodel import col, select

from backend.deps import (
    CurrentMember,
    Holder,
    MirrorDep,
    RuntimeDep,
    ServiceReplayWriteDep,
    SessionDep,
    Supplier,
    WriteDep,
)
from backend.errors import ERROR_RESPONSES
from backend.models import FinancingRequest
from backend.routers.common import Accepted, After, Id40, Limit, RootQuery, RowId, accepted
from backend.schemas import (
    FinancingIn,
    FinancingOut,
    InvoiceBatchIn,
    InvoiceBatchOut,
    InvoiceCreated,
    InvoiceIn,
    InvoiceOut,
    PieceOut,
    SplitIn,
    TransferIn,
    TxRequestOut,
)
from backend.services import financier as fin
from backend.services import invoicing
from backend.services import supplier as svc
from backend.services.views import (
    _open_financing_pieces,
    piece_out,
    root_row,
    visible_piece,
    visible_pieces_clause,
)
from chain.enums import PieceStatus
from indexer.models import Piece

router = APIRouter(prefix="/v1", tags=["supplier"], responses=ERROR_RESPONSES)
ACCEPTED = status.HTTP_202_ACCEPTED


@router.post("/invoices", response_model=InvoiceCreated, status_code=ACCEPTED)
def register_invoice(
    body: InvoiceIn,
    me: Supplier,
    ctx: ServiceReplayWriteDep,
) -> Accepted:
    """Store the invoice document, and register its hash and invoice key on the ledger for the
    buyer (a core enterprise) to confirm."""
    doc, req = invoicing.originate(ctx=ctx, me=me, body=body, issue=False)
    return Accepted(svc.created(ctx, doc, req))


@router.post("/invoices/batch", response_model=InvoiceBatchOut, status_code=ACCEPTED)
def register_invoices(body: InvoiceBatchIn, me: Supplier, ctx: ServiceReplayWriteDep) -> Accepted:
    """Register many invoices in one request (an ERP's upload), each as `POST /v1/invoices`
    would: every invoice gets its own transaction request, or the refusal it alone would get,
    by its position in `results`; one refused invoice does not stop the others. A malformed
    invoice fails the whole request (422). With an `Idempotency-Key` K, invoice i is keyed
    `K/i`: sending the same batch again sends nothing twice."""
    return Accepted(invoicing.register_batch(ctx=ctx, me=me, bodies=body.invoices))


@router.get("/invoices", response_model=list[InvoiceOut])
def list_invoices(
    me: CurrentMember,
    rt: RuntimeDep,
    session: SessionDep,
    mirror: MirrorDep,
    limit: Limit = 100,
    after: After = 0,
) -> list[InvoiceOut]:
    """Invoices this member sold or bought (auditors and regulators: all)."""
    return svc.list_invoices(rt=rt, session=session, mirror=mirror, me=me, limit=limit, after=after)


@router.get("/invoices/{invoice_id}", response_model=InvoiceOut)
def get_invoice(
    invoice_id: RowId, me: CurrentMember, rt: RuntimeDep, session: SessionDep, mirror: MirrorDep
) -> InvoiceOut:
    return svc.get_invoice(rt=rt, session=session, mirror=mirror, me=me, invoice_id=invoice_id)


@router.post("/receivables/{root_id}/cancel", response_model=TxRequestOut, status_code=ACCEPTED)
def cancel_invoice(
    root_id: Id40,
    me: Supplier,
    ctx: WriteDep,
) -> Accepted:
    """Withdraw a registration the debtor has not confirmed yet."""
    return accepted(ctx.rt, svc.cancel(ctx=ctx, me=me, root_id=root_id))


@router.get("/pieces", response_model=list[PieceOut])
def list_pieces(
    me: CurrentMember,
    rt: RuntimeDep,
    session: SessionDep,
    mirror: MirrorDep,
    held: Annotated[bool, Query(description="Only pieces this member holds now.")] = False,
    root_id: RootQuery = None,
    limit: Limit = 100,
    after: After = 0,
) -> list[PieceOut]:
    """Pieces this member may see: held, passed on, of its invoices or payables."""
    stmt = select(Piece).where(Piece.chain_id == rt.chain_id, col(Piece.piece_id) > after)
    clause = visible_pieces_clause(rt, me, financing_pieces=_open_financing_pieces(session))
    if clause is not None:
        stmt = stmt.where(clause)
    if held:
        stmt = stmt.where(Piece.holder == me.address, Piece.status == int(PieceStatus.ACTIVE))
    if root_id is not None:
        stmt = stmt.where(Piece.root_id == root_id)
    rows = mirror.exec(stmt.order_by(col(Piece.piece_id)).limit(limit)).all()
    return [piece_out(p, root_row(mirror, rt, p.root_id)) for p in rows]


@router.get("/pieces/{piece_id}", response_model=PieceOut)
def get_piece(
    piece_id: Id40, me: CurrentMember, rt: RuntimeDep, session: SessionDep, mirror: MirrorDep
) -> PieceOut:
    p = visible_piece(session, mirror, rt, me, piece_id)
    return piece_out(p, root_row(mirror, rt, p.root_id))


@router.post("/pieces/{piece_id}/split", response_model=TxRequestOut, status_code=ACCEPTED)
def split(
    piece_id: Id40,
    body: SplitIn,
    me: Holder,
    ctx: WriteDep,
) -> Accepted:
    """Split a held piece among recipients (amounts summing to the piece)."""
    return accepted(
        ctx.rt,
        svc.split(
            ctx=ctx,
            me=me,
            piece_id=piece_id,
            body=body,
        ),
    )


@router.post("/pieces/{piece_id}/transfer", response_model=TxRequestOut, status_code=ACCEPTED)
def transfer(
    piece_id: Id40,
    body: TransferIn,
    me: Holder,
    ctx: WriteDep,
) -> Accepted:
    """Pass a whole piece on to another supplier or financier."""
    return accepted(
        ctx.rt,
        svc.transfer(
            ctx=ctx,
            me=me,
            piece_id=piece_id,
            to=body.to,
        ),
    )


@router.post("/pieces/{piece_id}/claim", response_model=TxRequestOut, status_code=ACCEPTED)
def claim(
    piece_id: Id40,
    me: Holder,
    ctx: WriteDep,
) -> Accepted:
    """Pull what a held piece is owed now (the keeper also pushes it)."""
    return accepted(ctx.rt, svc.claim(ctx=ctx, me=me, piece_id=piece_id))


@router.post("/financing-requests", response_model=FinancingOut, status_code=201)
def request_financing(
    body: FinancingIn, me: Holder, rt: RuntimeDep, session: SessionDep, mirror: MirrorDep
) -> FinancingOut:
    """Ask financiers for offers on a held piece (amount wanted, maximum annual rate)."""
    fr = svc.request_financing(rt=rt, session=session, mirror=mirror, me=me, body=body)
    return fin.financing_out(fr, mirror, rt)


@router.post("/financing-requests/{request_id}/cancel", response_model=FinancingOut)
def cancel_financing(
    request_id: RowId, me: Holder, rt: RuntimeDep, session: SessionDep, mirror: MirrorDep
) -> FinancingOut:
    fr = svc.cancel_financing(session=session, me=me, request_id=request_id)
    return fin.financing_out(fr, mirror, rt)


@router.post("/offers/{offer_id}/accept", response_model=TxRequestOut, status_code=ACCEPTED)
def accept_offer(
    offer_id: Id40,
    me: Holder,
    ctx: WriteDep,
) -> Accepted:
    """Sell the piece to the offer's financier: piece and cash swap in one transaction."""
    return accepted(ctx.rt, svc.accept_offer(ctx=ctx, me=me, offer_id=offer_id))


__all__ = ["FinancingRequest"]
