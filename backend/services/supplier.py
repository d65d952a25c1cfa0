"""Supplier (and any holder): invoices, pieces, financing requests, accepting offers, claims."""

from __future__ import annotations

from sqlmodel import Session, col, select

from backend.errors import Conflict, InvalidInput, NotFound, refusal
from backend.models import (
    FinancingRequest,
    FinancingStatus,
    InvoiceDocument,
    TxRequest,
    TxStatus,
)
from backend.permissions import Permission
from backend.runtime import Runtime
from backend.schemas import FinancingIn, InvoiceCreated, InvoiceOut, PieceOut, SplitIn
from backend.services import checks
from backend.services.common import chain_now
from backend.services.context import Principal, WriteContext
from backend.services.tx import respond, submit
from backend.services.views import (
    open_financing_pieces,
    piece_out,
    piece_row,
    root_row,
    visible_offer,
    visible_piece,
    visible_pieces_clause,
    visible_root,
)
from chain.enums import OfferStatus, PieceStatus, Role, RootStatus
from chain.pricing import entitlement
from indexer.models import Piece, Root


def created(ctx: WriteContext, doc: InvoiceDocument, req: TxRequest) -> InvoiceCreated:
    """The 202 for a new invoice: its document, with the root once mined (the worker sets
    `root_id` then), and its transaction request."""
    tx = respond(ctx.rt, req)
    if req.status == TxStatus.MINED and doc.id:
        doc = ctx.session.get(InvoiceDocument, doc.id, populate_existing=True) or doc
    root = root_row(ctx.mirror, ctx.rt, doc.root_id) if doc.root_id else None
    return InvoiceCreated(invoice=invoice_out(doc, root), transaction=tx)


def invoice_out(doc: InvoiceDocument, root: Root | None) -> InvoiceOut:
    return InvoiceOut(
        id=doc.id or 0,
        root_id=doc.root_id,
        number=doc.number,
        seller=doc.seller,
        buyer=doc.buyer,
        amount=int(doc.amount),
        currency=doc.currency,
        issue_date=doc.issue_date,
        due_date=doc.due_date,
        invoice_hash=doc.invoice_hash,
        invoice_key=doc.invoice_key,
        document=doc.document,
        status=RootStatus(root.status).name.lower() if root else None,
        tx_request_id=doc.tx_request_id,
    )


def list_invoices(
    *, rt: Runtime, session: Session, mirror: Session, me: Principal, limit: int, after: int
) -> list[InvoiceOut]:
    stmt = select(InvoiceDocument).where(col(InvoiceDocument.id) > after)
    if not me.sees_all:
        stmt = stmt.where(
            (InvoiceDocument.seller == me.address) | (InvoiceDocument.buyer == me.address)
        )
    docs = session.exec(stmt.order_by(col(InvoiceDocument.id)).limit(limit)).all()
    return [invoice_out(d, root_row(mirror, rt, d.root_id) if d.root_id else None) for d in docs]


def list_pieces(
    *,
    rt: Runtime,
    session: Session,
    mirror: Session,
    me: Principal,
    held: bool,
    root_id: int | None,
    limit: int,
    after: int,
) -> list[PieceOut]:
    """Pieces `me` may see (held ones only, with `held`), by id."""
    stmt = select(Piece).where(Piece.chain_id == rt.chain_id, col(Piece.piece_id) > after)
    clause = visible_pieces_clause(
        rt, me, financing_pieces=open_financing_pieces(session, mirror, rt)
    )
    if clause is not None:
        stmt = stmt.where(clause)
    if held:
        stmt = stmt.where(Piece.holder == me.address, Piece.status == int(PieceStatus.ACTIVE))
    if root_id is not None:
        stmt = stmt.where(Piece.root_id == root_id)
    rows = mirror.exec(stmt.order_by(col(Piece.piece_id)).limit(limit)).all()
    return [piece_out(p, root_row(mirror, rt, p.root_id)) for p in rows]


def get_piece(
    *, rt: Runtime, session: Session, mirror: Session, me: Principal, piece_id: int
) -> PieceOut:
    p = visible_piece(session, mirror, rt, me, piece_id)
    return piece_out(p, root_row(mirror, rt, p.root_id))


def get_invoice(
    *, rt: Runtime, session: Session, mirror: Session, me: Principal, invoice_id: int
) -> InvoiceOut:
    doc = session.get(InvoiceDocument, invoice_id)
    if doc is None or not (me.sees_all or me.address in (doc.seller, doc.buyer)):
        raise NotFound(f"no invoice {invoice_id}")
    return invoice_out(doc, root_row(mirror, rt, doc.root_id) if doc.root_id else None)


def cancel(
    *,
    ctx: WriteContext,
    me: Principal,
    root_id: int,
) -> TxRequest:
    root = visible_root(ctx.mirror, ctx.rt, me, root_id)
    checks.root_status(root, RootStatus.REGISTERED)
    if root.supplier != me.address:
        raise refusal(
            "ReceivablesNotSupplier",
            rootId=root_id,
            caller=me.address,
        )
    checks.not_paused(ctx.mirror, ctx.rt)
    return submit(
        ctx=ctx,
        member=me,
        action="root.cancel",
        params={"root_id": root_id},
    )


def refuse(
    *,
    ctx: WriteContext,
    me: Principal,
    root_id: int,
    reason: str,
) -> TxRequest:
    """Refuse a payable issued in this supplier's name that it never agreed to: the root piece
    is burned, the debtor's credit released and the invoice key freed."""
    root = visible_root(ctx.mirror, ctx.rt, me, root_id)
    checks.root_status(root, RootStatus.CONFIRMED)
    if root.supplier != me.address:
        raise refusal("ReceivablesNotSupplier", rootId=root_id, caller=me.address)
    checks.not_paused(ctx.mirror, ctx.rt)
    piece = piece_row(ctx.mirror, ctx.rt, root_id)  # the root piece has the root's id
    if piece is None:
        raise NotFound(f"no piece {root_id}")
    checks.movable(ctx.mirror, ctx.rt, piece, root)
    if piece.holder != me.address:
        raise refusal("ReceivablesNotHolder", pieceId=root_id, account=me.address)
    if int(root.repaid) != 0:
        raise refusal("ReceivablesAlreadyRepaid", rootId=root_id, repaid=int(root.repaid))
    return submit(
        ctx=ctx,
        member=me,
        action="root.refuse",
        params={"root_id": root_id, "reason": reason},
    )


def split(
    *,
    ctx: WriteContext,
    me: Principal,
    piece_id: int,
    body: SplitIn,
) -> TxRequest:
    piece = visible_piece(ctx.session, ctx.mirror, ctx.rt, me, piece_id)
    root = root_row(ctx.mirror, ctx.rt, piece.root_id)
    assert root is not None
    checks.movable(ctx.mirror, ctx.rt, piece, root)
    checks.holder(piece, me.address)
    status = checks.not_paused(ctx.mirror, ctx.rt)
    for part in body.parts:
        checks.active_with_role(ctx.mirror, ctx.rt, part.to, Role.HOLDER)
    if status is not None:
        if piece.depth >= status.max_depth:
            raise refusal(
                "ReceivablesMaxDepthReached",
                pieceId=piece_id,
                maxDepth=status.max_depth,
            )
        for part in body.parts:
            if part.amount < int(status.min_piece_amount):
                raise refusal(
                    "ReceivablesAmountTooSmall",
                    amount=part.amount,
                    minimum=int(status.min_piece_amount),
                )
    total = sum(p.amount for p in body.parts)
    if total != int(piece.amount):
        raise refusal(
            "ReceivablesSplitSumMismatch",
            pieceId=piece_id,
            amount=int(piece.amount),
            sum=total,
        )
    return submit(
        ctx=ctx,
        member=me,
        action="piece.split",
        params={
            "piece_id": piece_id,
            "holders": [p.to for p in body.parts],
            "amounts": [p.amount for p in body.parts],
        },
    )


def transfer(
    *,
    ctx: WriteContext,
    me: Principal,
    piece_id: int,
    to: str,
) -> TxRequest:
    piece = visible_piece(ctx.session, ctx.mirror, ctx.rt, me, piece_id)
    root = root_row(ctx.mirror, ctx.rt, piece.root_id)
    assert root is not None
    checks.not_paused(ctx.mirror, ctx.rt)
    checks.active_with_role(ctx.mirror, ctx.rt, me.address, Role.HOLDER)
    checks.active_with_role(ctx.mirror, ctx.rt, to, Role.HOLDER)
    checks.movable(ctx.mirror, ctx.rt, piece, root)
    checks.holder(piece, me.address)
    if to.lower() == me.address.lower():
        raise Conflict(
            "you already hold this piece: a transfer to yourself would change nothing",
            code="TransferToSelf",
            details={"pieceId": piece_id, "account": to},
        )
    from eth_utils.address import to_checksum_address

    return submit(
        ctx=ctx,
        member=me,
        action="piece.transfer",
        params={
            "piece_id": piece_id,
            "from": to_checksum_address(me.address),
            "to": to,
            "amount": int(piece.amount),
        },
    )


def request_financing(
    *, rt: Runtime, session: Session, mirror: Session, me: Principal, body: FinancingIn
) -> FinancingRequest:
    me.require(Permission.ACCEPT_OFFERS)
    piece = visible_piece(session, mirror, rt, me, body.piece_id)
    root = root_row(mirror, rt, piece.root_id)
    assert root is not None
    checks.movable(mirror, rt, piece, root)
    checks.holder(piece, me.address)
    if body.amount_wanted > int(piece.amount):
        raise InvalidInput(
            "amount wanted exceeds the piece's amount",
            code="AmountExceedsPiece",
            details={"piece_amount": int(piece.amount)},
        )
    open_one = session.exec(
        select(FinancingRequest).where(
            FinancingRequest.piece_id == body.piece_id,
            FinancingRequest.status == FinancingStatus.OPEN,
        )
    ).first()
    if open_one is not None:
        raise Conflict(
            "this piece already has an open financing request: cancel it first",
            code="FinancingRequestOpen",
            details={"pieceId": body.piece_id, "financing_request_id": open_one.id},
        )
    fr = FinancingRequest(
        piece_id=body.piece_id,
        requester=me.address,
        amount_wanted=body.amount_wanted,
        max_rate_bps=body.max_rate_bps,
    )
    session.add(fr)
    session.commit()
    session.refresh(fr)
    return fr


def cancel_financing(*, session: Session, me: Principal, request_id: int) -> FinancingRequest:
    me.require(Permission.ACCEPT_OFFERS)
    fr = session.get(FinancingRequest, request_id)
    if fr is None or fr.requester != me.address:
        raise NotFound(f"no financing request {request_id}")
    if fr.status == FinancingStatus.OPEN:
        fr.status = FinancingStatus.CANCELLED
        session.add(fr)
        session.commit()
    return fr


def accept_offer(
    *,
    ctx: WriteContext,
    me: Principal,
    offer_id: int,
) -> TxRequest:
    offer = visible_offer(ctx.mirror, ctx.rt, me, offer_id)
    if offer.status != OfferStatus.OPEN:
        raise refusal("ReceivablesOfferNotOpen", offerId=offer_id, status=offer.status)
    now = chain_now(ctx.rt)
    if now >= offer.expiry:
        raise refusal("ReceivablesOfferExpired", offerId=offer_id, expiry=offer.expiry)
    piece = piece_row(ctx.mirror, ctx.rt, offer.piece_id)
    root = root_row(ctx.mirror, ctx.rt, piece.root_id) if piece else None
    assert piece is not None and root is not None
    checks.movable(ctx.mirror, ctx.rt, piece, root)
    checks.holder(piece, me.address)
    checks.not_paused(ctx.mirror, ctx.rt)
    checks.active_with_role(ctx.mirror, ctx.rt, offer.financier, Role.FINANCIER)
    return submit(
        ctx=ctx,
        member=me,
        action="offer.accept",
        params={"offer_id": offer_id, "piece_id": offer.piece_id},
        amount=int(offer.price),
    )


def claim(
    *,
    ctx: WriteContext,
    me: Principal,
    piece_id: int,
) -> TxRequest:
    piece = visible_piece(ctx.session, ctx.mirror, ctx.rt, me, piece_id)
    if piece.status != PieceStatus.ACTIVE:
        raise refusal("ReceivablesPieceNotActive", pieceId=piece_id)
    checks.holder(piece, me.address)
    root = root_row(ctx.mirror, ctx.rt, piece.root_id)
    assert root is not None
    checks.root_status(root, *RootStatus.PAYABLE)
    if chain_now(ctx.rt) < root.due_date:
        raise refusal("ReceivablesNotDue", rootId=root.root_id, dueDate=root.due_date)
    if piece.frozen or root.frozen:
        raise refusal("ReceivablesPieceFrozen", pieceId=piece_id)
    entitled = entitlement(
        int(piece.amount), repaid=int(root.repaid), face_value=int(root.face_value)
    )
    owed = entitled - int(piece.paid_out)
    if owed <= 0:
        raise refusal("ReceivablesNothingToClaim", pieceId=piece_id)
    return submit(
        ctx=ctx,
        member=me,
        action="piece.claim",
        params={"piece_id": piece_id},
    )
