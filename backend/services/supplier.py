"""Supplier (and any holder): invoices, pieces, financing requests, accepting offers, claims."""

from __future__ import annotations

from sqlmodel import Session, col, select

from backend.deps import Principal, WriteContext
from backend.errors import Forbidden, InvalidInput, NotFound, refusal
from backend.models import (
    FinancingRequest,
    FinancingStatus,
    InvoiceDocument,
    TxRequest,
    TxStatus,
)
from backend.runtime import Runtime
from backend.schemas import FinancingIn, InvoiceCreated, InvoiceIn, InvoiceOut, SplitIn
from backend.services import checks
from backend.services.common import chain_now
from backend.services.documents import canonical_document, document_hash, due_timestamp, invoice_key
from backend.services.tx import by_key, replay, respond, submit
from backend.services.views import (
    piece_row,
    root_row,
    visible_offer,
    visible_piece,
    visible_root,
)
from chain.enums import OfferStatus, PieceStatus, Role, RootStatus
from indexer.models import Root

LIVE_KEY_STATUSES = (
    RootStatus.REGISTERED,
    RootStatus.CONFIRMED,
    RootStatus.OVERDUE,
    RootStatus.SETTLED,
)


def originate(
    *,
    ctx: WriteContext,
    me: Principal,
    body: InvoiceIn,
    issue: bool,
) -> tuple[InvoiceDocument, TxRequest]:
    """Register an invoice (supplier) or issue a payable directly (debtor)."""
    if (
        ctx.idem is not None
        and (prior := by_key(ctx.session, me.address, ctx.idem.key)) is not None
    ):
        # a retry: the checks below would refuse the invoice the first attempt registered
        req = replay(ctx.rt, ctx.session, prior, ctx.idem, ctx.wait)
        found = ctx.session.exec(
            select(InvoiceDocument).where(InvoiceDocument.tx_request_id == req.id)
        ).first()
        if found is not None:
            return found, req
    ours = body.buyer if issue else body.seller
    if ours.lower() != me.address:
        side = "buyer" if issue else "seller"
        raise Forbidden(f"you must be the invoice's {side}", code="NotInvoiceParty")
    status = checks.not_paused(ctx.mirror, ctx.rt)
    # `me` is one party, already known active with its role (the route's dependency)
    if issue:
        seller = checks.active_with_role(ctx.mirror, ctx.rt, body.seller, Role.SUPPLIER)
        seller_entity = seller.entity_id
    else:
        checks.active_with_role(ctx.mirror, ctx.rt, body.buyer, Role.CORE_ENTERPRISE)
        seller_entity = me.entity_id
    doc, canonical = canonical_document(body)
    if len(canonical.encode()) > ctx.rt.settings.max_document_bytes:
        raise InvalidInput(
            "invoice document too large",
            code="DocumentTooLarge",
            details={"max_bytes": ctx.rt.settings.max_document_bytes},
        )
    key = invoice_key(seller_entity, body.number)
    taken = ctx.mirror.exec(
        select(Root).where(
            Root.chain_id == ctx.rt.chain_id,
            Root.invoice_key == key,
            col(Root.status).in_([int(s) for s in LIVE_KEY_STATUSES]),
        )
    ).first()
    if taken is not None:
        raise refusal(
            "ReceivablesInvoiceKeyUsed",
            "this invoice is already on the ledger",
            invoiceKey=key,
            rootId=taken.root_id,
        )
    if status is not None and body.amount < int(status.min_piece_amount):
        raise refusal(
            "ReceivablesAmountTooSmall",
            "below the minimum piece amount",
            amount=body.amount,
            minimum=int(status.min_piece_amount),
        )
    due = due_timestamp(body)
    if due <= ctx.rt.chain_time_floor():
        raise refusal("ReceivablesInvalidDueDate", "due date has passed", dueDate=due)
    if issue:
        credit_limit, credit_used = me.credit_limit, me.credit_used
        if credit_used + body.amount > credit_limit:
            raise refusal(
                "ReceivablesCreditLimitExceeded",
                "credit limit exceeded",
                debtor=me.address,
                creditLimit=credit_limit,
                creditUsed=credit_used,
                amount=body.amount,
            )
    hash_ = document_hash(canonical)
    params = {
        "supplier" if issue else "debtor": body.seller if issue else body.buyer,
        "face_value": body.amount,
        "due_date": due,
        "invoice_hash": hash_,
        "invoice_key": key,
    }
    document = InvoiceDocument(
        seller=body.seller.lower(),
        buyer=body.buyer.lower(),
        number=body.number,
        currency=body.currency,
        amount=body.amount,
        issue_date=body.issue_date.isoformat(),
        due_date=body.due_date.isoformat(),
        document=doc,
        invoice_hash=hash_,
        invoice_key=key,
        canonical=canonical,
        tx_request_id="",
    )

    def attach(s: Session, req: TxRequest) -> None:
        document.tx_request_id = req.id
        s.add(document)

    req = submit(
        ctx=ctx,
        member=me,
        action="root.issue" if issue else "root.register",
        params=params,
        before_commit=attach,
    )
    if document.tx_request_id == req.id:
        return document, req
    # a concurrent first use of the Idempotency-Key won: its document, not this one
    found = ctx.session.exec(
        select(InvoiceDocument).where(InvoiceDocument.tx_request_id == req.id)
    ).first()
    return (found or document), req


def created(ctx: WriteContext, doc: InvoiceDocument, req: TxRequest) -> InvoiceCreated:
    """The 202 for a new invoice: its document, with the root once mined (the worker sets
    `root_id` then), and its transaction request."""
    tx = respond(ctx.rt, req)
    if req.status == TxStatus.MINED and doc.id:
        ctx.session.refresh(doc)
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
            "only the supplier may cancel",
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
                "piece is split as deep as allowed",
                pieceId=piece_id,
                maxDepth=status.max_depth,
            )
        for part in body.parts:
            if part.amount < int(status.min_piece_amount):
                raise refusal(
                    "ReceivablesAmountTooSmall",
                    "part below the minimum piece amount",
                    amount=part.amount,
                    minimum=int(status.min_piece_amount),
                )
    total = sum(p.amount for p in body.parts)
    if total != int(piece.amount):
        raise refusal(
            "ReceivablesSplitSumMismatch",
            "parts must sum to the piece's amount",
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
        raise refusal(
            "ReceivablesOfferNotOpen", "offer is not open", offerId=offer_id, status=offer.status
        )
    now = chain_now(ctx.rt)
    if now >= offer.expiry:
        raise refusal(
            "ReceivablesOfferExpired", "offer has expired", offerId=offer_id, expiry=offer.expiry
        )
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
    )


def claim(
    *,
    ctx: WriteContext,
    me: Principal,
    piece_id: int,
) -> TxRequest:
    piece = visible_piece(ctx.session, ctx.mirror, ctx.rt, me, piece_id)
    if piece.status != PieceStatus.ACTIVE:
        raise refusal("ReceivablesPieceNotActive", "piece is not active", pieceId=piece_id)
    checks.holder(piece, me.address)
    root = root_row(ctx.mirror, ctx.rt, piece.root_id)
    assert root is not None
    checks.root_status(root, RootStatus.CONFIRMED, RootStatus.OVERDUE)
    if chain_now(ctx.rt) < root.due_date:
        raise refusal(
            "ReceivablesNotDue", "not due yet", rootId=root.root_id, dueDate=root.due_date
        )
    if piece.frozen or root.frozen:
        raise refusal("ReceivablesPieceFrozen", "piece is frozen", pieceId=piece_id)
    owed = int(piece.amount) * int(root.repaid) // int(root.face_value) - int(piece.paid_out)
    if owed <= 0:
        raise refusal("ReceivablesNothingToClaim", "nothing owed now", pieceId=piece_id)
    return submit(
        ctx=ctx,
        member=me,
        action="piece.claim",
        params={"piece_id": piece_id},
    )
