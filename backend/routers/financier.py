"""/v1 financing requests, quotes, offers, holdings (financiers)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, status

from backend.deps import (
    CurrentMember,
    Financier,
    Holder,
    MirrorDep,
    RuntimeDep,
    SessionDep,
    WriteDep,
)
from backend.errors import ERROR_RESPONSES
from backend.routers.common import Accepted, After, Id40, Limit, accepted
from backend.schemas import (
    FinancingOut,
    HoldingOut,
    OfferIn,
    OfferOut,
    QuoteOut,
    RateBps,
    TxRequestOut,
)
from backend.services import financier as svc

router = APIRouter(prefix="/v1", tags=["financier"], responses=ERROR_RESPONSES)
ACCEPTED = status.HTTP_202_ACCEPTED


@router.get("/financing-requests", response_model=list[FinancingOut])
def list_financing(
    me: Holder,
    rt: RuntimeDep,
    session: SessionDep,
    mirror: MirrorDep,
    limit: Limit = 100,
    after: After = 0,
) -> list[FinancingOut]:
    """Financiers: every open request (and their own); suppliers: their own."""
    return svc.list_financing(
        rt=rt, session=session, mirror=mirror, me=me, limit=limit, after=after
    )


@router.get("/quote", response_model=QuoteOut)
def quote(
    me: Financier,
    rt: RuntimeDep,
    session: SessionDep,
    mirror: MirrorDep,
    piece_id: Annotated[int, Query(gt=0, lt=2**40)],
    rate_bps: Annotated[RateBps, Query()],
) -> QuoteOut:
    """Price = amount - floor(amount * rate * days / (10000 * 360)), days to the due date."""
    return svc.quote(
        rt=rt, session=session, mirror=mirror, me=me, piece_id=piece_id, rate_bps=rate_bps
    )


@router.post("/offers", response_model=TxRequestOut, status_code=ACCEPTED)
def post_offer(
    body: OfferIn,
    me: Financier,
    ctx: WriteDep,
) -> Accepted:
    """Offer to buy a piece; the price moves into escrow."""
    return accepted(ctx.rt, svc.post_offer(ctx=ctx, me=me, body=body))


@router.post("/offers/{offer_id}/cancel", response_model=TxRequestOut, status_code=ACCEPTED)
def cancel_offer(
    offer_id: Id40,
    me: Financier,
    ctx: WriteDep,
) -> Accepted:
    """Withdraw an open offer; its escrow is refunded."""
    return accepted(ctx.rt, svc.cancel_offer(ctx=ctx, me=me, offer_id=offer_id))


@router.get("/offers", response_model=list[OfferOut])
def list_offers(
    me: CurrentMember,
    rt: RuntimeDep,
    mirror: MirrorDep,
    status_: Annotated[
        Literal["open", "accepted", "cancelled"] | None, Query(alias="status")
    ] = None,
    limit: Limit = 100,
    after: After = 0,
) -> list[OfferOut]:
    """Offers this member made, or on pieces it holds."""
    return svc.list_offers(rt=rt, mirror=mirror, me=me, status=status_, limit=limit, after=after)


@router.get("/offers/{offer_id}", response_model=OfferOut)
def get_offer(offer_id: Id40, me: CurrentMember, rt: RuntimeDep, mirror: MirrorDep) -> OfferOut:
    return svc.get_offer(rt=rt, mirror=mirror, me=me, offer_id=offer_id)


@router.get("/holdings", response_model=list[HoldingOut])
def holdings(me: Holder, rt: RuntimeDep, mirror: MirrorDep) -> list[HoldingOut]:
    """Pieces held now, with what each is still to be paid and when (expected cash flows)."""
    return svc.holdings(rt=rt, mirror=mirror, me=me)
