"""Financier: financing requests, quotes, offers with escrow, holdings and cash flows."""

from __future__ import annotations

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from backend.errors import Conflict, NotFound, refusal
from backend.models import FinancingOffer, FinancingRequest, FinancingStatus, TxRequest
from backend.runtime import Runtime
from backend.schemas import FinancingOut, HoldingOut, OfferIn, OfferOut, QuoteOut
from backend.services import checks
from backend.services.common import chain_now
from backend.services.context import Principal, WriteContext
from backend.services.tx import submit
from backend.services.views import (
    answered_requests,
    offer_out,
    open_financing_pieces,
    piece_out,
    piece_row,
    root_row,
    visible_offer,
    visible_piece,
)
from backend.txn.actions import ANSWERS
from chain.enums import OfferStatus, PieceStatus, Role, RootStatus
from chain.pricing import days_to_maturity, discount_price, implied_rate_bps
from indexer.models import Offer, Piece, Root


def financing_out(
    fr: FinancingRequest, session: Session, mirror: Session, rt: Runtime, me: Principal
) -> FinancingOut:
    """The request, with the offers answering it that `me` may see: all of them for its
    requester (and auditors, regulators), a financier's own only for a financier."""
    piece = piece_row(mirror, rt, fr.piece_id)
    root = root_row(mirror, rt, piece.root_id) if piece else None
    offers = select(FinancingOffer.offer_id).where(FinancingOffer.financing_request_id == fr.id)
    offer_ids = list(session.exec(offers.order_by(col(FinancingOffer.offer_id))).all())
    if offer_ids and not (me.sees_all or fr.requester == me.address):
        own = select(Offer.offer_id).where(
            Offer.chain_id == rt.chain_id,
            col(Offer.offer_id).in_(offer_ids),
            Offer.financier == me.address,
        )
        offer_ids = sorted(mirror.exec(own).all())
    return FinancingOut(
        id=fr.id or 0,
        piece_id=fr.piece_id,
        requester=fr.requester,
        amount_wanted=int(fr.amount_wanted),
        max_rate_bps=fr.max_rate_bps,
        status=fr.status,
        created_at=fr.created_at,
        piece_amount=int(piece.amount) if piece else None,
        due_date=root.due_date if root else None,
        debtor=root.debtor if root else None,
        offer_ids=offer_ids,
    )


def list_financing(
    *, rt: Runtime, session: Session, mirror: Session, me: Principal, limit: int, after: int
) -> list[FinancingOut]:
    stmt = select(FinancingRequest).where(col(FinancingRequest.id) > after)
    if not me.sees_all:
        mine = col(FinancingRequest.requester) == me.address
        if me.has(Role.FINANCIER):
            live = open_financing_pieces(session, mirror, rt)
            offered = and_(
                col(FinancingRequest.status) == FinancingStatus.OPEN,
                col(FinancingRequest.piece_id).in_(live),
            )
            stmt = stmt.where(or_(mine, offered))
        else:
            stmt = stmt.where(mine)
    rows = session.exec(stmt.order_by(col(FinancingRequest.id)).limit(limit)).all()
    return [financing_out(fr, session, mirror, rt, me) for fr in rows]


def quote(
    *,
    rt: Runtime,
    session: Session,
    mirror: Session,
    me: Principal,
    piece_id: int,
    rate_bps: int,
) -> QuoteOut:
    piece = visible_piece(session, mirror, rt, me, piece_id)
    root = root_row(mirror, rt, piece.root_id)
    assert root is not None
    days = days_to_maturity(now=chain_now(rt), due_date=root.due_date)
    amount = int(piece.amount)
    price = discount_price(amount, rate_bps=rate_bps, days=days)
    return QuoteOut(
        piece_id=piece_id,
        amount=amount,
        rate_bps=rate_bps,
        days=days,
        price=price,
        discount=amount - price,
        due_date=root.due_date,
    )


def post_offer(
    *,
    ctx: WriteContext,
    me: Principal,
    body: OfferIn,
) -> TxRequest:
    piece = visible_piece(ctx.session, ctx.mirror, ctx.rt, me, body.piece_id)
    root = root_row(ctx.mirror, ctx.rt, piece.root_id)
    assert root is not None
    checks.not_paused(ctx.mirror, ctx.rt)
    checks.movable(ctx.mirror, ctx.rt, piece, root)
    if piece.holder == me.address:
        raise refusal("ReceivablesSelfDealing", account=me.address)
    now = chain_now(ctx.rt)
    if body.price is not None:
        price = body.price
    else:
        assert body.rate_bps is not None
        days = days_to_maturity(now=now, due_date=root.due_date)
        price = discount_price(int(piece.amount), rate_bps=body.rate_bps, days=days)
    if price <= 0 or price > int(piece.amount):
        raise refusal(
            "ReceivablesInvalidPrice",
            pieceId=piece.piece_id,
            price=price,
        )
    asked = _answered(ctx.session, piece.piece_id, body.financing_request_id)
    if asked is not None:
        days = days_to_maturity(now=now, due_date=root.due_date)
        rate = implied_rate_bps(int(piece.amount), price=price, days=days)
        if rate > asked.max_rate_bps:
            raise Conflict(
                "the offer's rate is above the financing request's maximum",
                code="OfferAboveMaxRate",
                details={
                    "pieceId": piece.piece_id,
                    "financing_request_id": asked.id,
                    "rate_bps": rate,
                    "max_rate_bps": asked.max_rate_bps,
                },
            )
    expiry = min(now + body.expires_in_seconds, root.due_date)
    if expiry <= now:
        raise refusal("ReceivablesInvalidExpiry", expiry=expiry)
    checks.enough_cash(ctx.mirror, ctx.rt, me.address, price)
    params: dict[str, object] = {"piece_id": piece.piece_id, "price": price, "expiry": expiry}
    if asked is not None:
        params[ANSWERS] = asked.id
    return submit(ctx=ctx, member=me, action="offer.post", params=params)


def _answered(session: Session, piece_id: int, named: int | None) -> FinancingRequest | None:
    """The open financing request an offer on `piece_id` answers: the one named, which must be
    open and for that piece, or else the piece's open request, if any."""
    open_one = session.exec(
        select(FinancingRequest).where(
            FinancingRequest.piece_id == piece_id,
            FinancingRequest.status == FinancingStatus.OPEN,
        )
    ).first()
    if named is not None and (open_one is None or open_one.id != named):
        raise Conflict(
            f"financing request {named} is not an open request for piece {piece_id}",
            code="FinancingRequestNotOpen",
            details={
                "financing_request_id": named,
                "pieceId": piece_id,
                "open_request_id": open_one.id if open_one else None,
            },
        )
    return open_one


def cancel_offer(
    *,
    ctx: WriteContext,
    me: Principal,
    offer_id: int,
) -> TxRequest:
    offer = visible_offer(ctx.mirror, ctx.rt, me, offer_id)
    if offer.status != OfferStatus.OPEN:
        raise refusal("ReceivablesOfferNotOpen", offerId=offer_id, status=offer.status)
    if offer.financier != me.address and chain_now(ctx.rt) < offer.expiry:
        raise refusal("ReceivablesNotFinancier", offerId=offer_id, caller=me.address)
    checks.not_paused(ctx.mirror, ctx.rt)
    return submit(
        ctx=ctx,
        member=me,
        action="offer.cancel",
        params={"offer_id": offer_id},
    )


def list_offers(
    *,
    rt: Runtime,
    session: Session,
    mirror: Session,
    me: Principal,
    status: str | None,
    limit: int,
    after: int,
) -> list[OfferOut]:
    stmt = select(Offer).where(Offer.chain_id == rt.chain_id, col(Offer.offer_id) > after)
    if not me.sees_all:
        mine = select(Piece.piece_id).where(
            Piece.chain_id == rt.chain_id, Piece.holder == me.address
        )
        stmt = stmt.where(
            or_(
                col(Offer.financier) == me.address,
                col(Offer.seller) == me.address,
                col(Offer.piece_id).in_(mine),
            )
        )
    if status is not None:
        stmt = stmt.where(Offer.status == int(OfferStatus[status.upper()]))
    rows = mirror.exec(stmt.order_by(col(Offer.offer_id)).limit(limit)).all()
    answers = answered_requests(session, (o.offer_id for o in rows))
    return [offer_out(o, answers) for o in rows]


def get_offer(
    *, rt: Runtime, session: Session, mirror: Session, me: Principal, offer_id: int
) -> OfferOut:
    offer = visible_offer(mirror, rt, me, offer_id)
    return offer_out(offer, answered_requests(session, [offer_id]))


def holdings(*, rt: Runtime, mirror: Session, me: Principal) -> list[HoldingOut]:
    """The pieces `me` holds now: face amount, what it paid where it bought (the offer it
    accepted), the debtor, days to maturity by the ledger's clock, paid out and still due."""
    rows = mirror.exec(
        select(Piece)
        .where(
            Piece.chain_id == rt.chain_id,
            Piece.holder == me.address,
            Piece.status == int(PieceStatus.ACTIVE),
        )
        .order_by(col(Piece.piece_id))
    ).all()
    if not rows:
        return []
    ids = [p.piece_id for p in rows]
    roots = {
        r.root_id: r
        for r in mirror.exec(
            select(Root).where(
                Root.chain_id == rt.chain_id, col(Root.root_id).in_({p.root_id for p in rows})
            )
        )
    }
    # its latest purchase of each piece (a piece sold on and bought back was bought twice)
    bought: dict[int, Offer] = {}
    for o in mirror.exec(
        select(Offer)
        .where(
            Offer.chain_id == rt.chain_id,
            col(Offer.piece_id).in_(ids),
            Offer.financier == me.address,
            Offer.status == int(OfferStatus.ACCEPTED),
        )
        .order_by(col(Offer.closed_block), col(Offer.offer_id))
    ):
        bought[o.piece_id] = o
    now = chain_now(rt)
    out = []
    for p in rows:
        root = roots.get(p.root_id)
        if root is None:
            raise NotFound(f"no receivable {p.root_id}")
        offer = bought.get(p.piece_id)
        out.append(
            HoldingOut(
                piece=piece_out(p, root),
                expected=int(p.amount) - int(p.paid_out),
                due_date=root.due_date,
                root_status=RootStatus(root.status).name.lower(),
                face_amount=int(p.amount),
                debtor=root.debtor,
                paid_out=int(p.paid_out),
                days_to_maturity=days_to_maturity(now=now, due_date=root.due_date),
                price_paid=int(offer.price) if offer is not None else None,
                offer_id=offer.offer_id if offer is not None else None,
            )
        )
    return out
