"""/v1 offers: quotes, posting and withdrawing (financiers), accepting (the holder)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, status

from backend.api.deps import (
    CurrentMember,
    Financier,
    Holder,
    MirrorDep,
    RuntimeDep,
    SessionDep,
    WriteDep,
    may_do,
)
from backend.api.errors import ERROR_RESPONSES
from backend.api.params import Accepted, After, Id40, Limit, accepted
from backend.schemas import OfferIn, OfferOut, QuoteOut, RateBps, TxRequestOut
from backend.services import financier, supplier

router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)
ACCEPTED = status.HTTP_202_ACCEPTED


@router.get("/quote", response_model=QuoteOut, tags=["financier"])
def quote(
    me: Financier,
    rt: RuntimeDep,
    session: SessionDep,
    mirror: MirrorDep,
    piece_id: Annotated[int, Query(gt=0, lt=2**40)],
    rate_bps: Annotated[RateBps, Query()],
) -> QuoteOut:
    """Price = amount - floor(amount * rate * days / (10000 * 360)), days to the due date."""
    return financier.quote(
        rt=rt, session=session, mirror=mirror, me=me, piece_id=piece_id, rate_bps=rate_bps
    )


@router.post(
    "/offers",
    response_model=TxRequestOut,
    status_code=ACCEPTED,
    tags=["financier"],
    dependencies=[may_do("offer.post")],
)
def post_offer(
    body: OfferIn,
    me: Financier,
    ctx: WriteDep,
) -> Accepted:
    """Offer to buy a piece; the price moves into escrow."""
    return accepted(ctx.rt, financier.post_offer(ctx=ctx, me=me, body=body))


@router.post(
    "/offers/{offer_id}/cancel",
    response_model=TxRequestOut,
    status_code=ACCEPTED,
    tags=["financier"],
    dependencies=[may_do("offer.cancel")],
)
def cancel_offer(
    offer_id: Id40,
    me: Financier,
    ctx: WriteDep,
) -> Accepted:
    """Withdraw an open offer; its escrow is refunded."""
    return accepted(ctx.rt, financier.cancel_offer(ctx=ctx, me=me, offer_id=offer_id))


@router.get("/offers", response_model=list[OfferOut], tags=["financier"])
def list_offers(
    me: CurrentMember,
    rt: RuntimeDep,
    session: SessionDep,
    mirror: MirrorDep,
    status_: Annotated[
        Literal["open", "accepted", "cancelled"] | None, Query(alias="status")
    ] = None,
    limit: Limit = 100,
    after: After = 0,
) -> list[OfferOut]:
    """Offers this member made, or on pieces it holds."""
    return financier.list_offers(
        rt=rt, session=session, mirror=mirror, me=me, status=status_, limit=limit, after=after
    )


@router.get("/offers/{offer_id}", response_model=OfferOut, tags=["financier"])
def get_offer(
    offer_id: Id40, me: CurrentMember, rt: RuntimeDep, session: SessionDep, mirror: MirrorDep
) -> OfferOut:
    return financier.get_offer(rt=rt, session=session, mirror=mirror, me=me, offer_id=offer_id)


@router.post(
    "/offers/{offer_id}/accept",
    response_model=TxRequestOut,
    status_code=ACCEPTED,
    tags=["supplier"],
    dependencies=[may_do("offer.accept")],
)
def accept_offer(
    offer_id: Id40,
    me: Holder,
    ctx: WriteDep,
) -> Accepted:
    """Sell the piece to the offer's financier: piece and cash swap in one transaction."""
    return accepted(ctx.rt, supplier.accept_offer(ctx=ctx, me=me, offer_id=offer_id))
