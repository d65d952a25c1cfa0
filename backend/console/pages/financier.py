"""A financier's pages: the open financing requests it may answer (debtor, amount, maturity, the
supplier's maximum rate), posting, changing (cancel, then post anew) and withdrawing its offers,
its portfolio by debtor and maturity with the repayments it expects (a maturity ladder), its
cash and statement. Every read and write goes through the service its /v1 route calls."""

from __future__ import annotations

import dataclasses
import json
from collections import defaultdict
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request, Response

from backend.api.deps import MirrorDep, RuntimeDep, SessionDep
from backend.api.routes import statements
from backend.console import i18n, pictures
from backend.console.forms import ConsoleWrite, build, percent_to_bps
from backend.console.pages.approvals import written
from backend.console.render import PREFIX, language, names, redirect, render, tr
from backend.console.session import FinancierViewer, Viewer
from backend.errors import Conflict
from backend.models import FinancingRequest, FinancingStatus
from backend.schemas import FinancingOut, HoldingOut, OfferIn, OfferOut, TxRequestOut
from backend.services import financier
from backend.services.common import chain_now
from backend.services.context import Idem, WriteContext
from backend.services.tx import respond
from chain.pricing import days_to_maturity

router = APIRouter(prefix=f"{PREFIX}/financier", include_in_schema=False)
HOME = f"{PREFIX}/financier"
OfferId = Annotated[int, Path(gt=0, lt=2**40)]
#: How long a posted offer stands unless the form says otherwise (the API's default).
OFFER_DAYS = 7
CHART_WIDTH = 560


def by_debtor(holdings: list[HoldingOut]) -> list[dict[str, Any]]:
    """The portfolio per debtor: what its pieces are still owed and on how many receivables,
    largest first."""
    owed: defaultdict[str, int] = defaultdict(int)
    roots: defaultdict[str, set[int]] = defaultdict(set)
    for h in holdings:
        if h.expected > 0:
            owed[h.debtor.lower()] += h.expected
            roots[h.debtor.lower()].add(h.piece.root_id)
    return [
        {"debtor": d, "outstanding": v, "receivables": len(roots[d])}
        for d, v in sorted(owed.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def _open_requests(requests: list[FinancingOut], me: str) -> list[FinancingOut]:
    """The open requests of others: those it may answer."""
    return [r for r in requests if r.status == FinancingStatus.OPEN and r.requester.lower() != me]


@router.get("")
def home(
    request: Request,
    seen: FinancierViewer,
    rt: RuntimeDep,
    session: SessionDep,
    mirror: MirrorDep,
) -> Response:
    me = seen.member
    gettext: pictures.Gettext = i18n.translations(language(request)).gettext
    requests = _open_requests(
        financier.list_financing(rt=rt, session=session, mirror=mirror, me=me, limit=200, after=0),
        me.address,
    )
    offers = financier.list_offers(
        rt=rt, session=session, mirror=mirror, me=me, status="open", limit=200, after=0
    )
    mine_open = [o for o in offers if o.financier.lower() == me.address]
    offered = {o.piece_id: o for o in mine_open}
    held = financier.holdings(rt=rt, mirror=mirror, me=me)
    now = chain_now(rt)
    days = {r.id: days_to_maturity(now=now, due_date=r.due_date) for r in requests if r.due_date}
    known = names(request, language(request))
    debtors = by_debtor(held)
    ladder = pictures.maturity_ladder(
        [(h.due_date, h.expected) for h in held if h.expected > 0],
        now=now,
        _=gettext,
        width=CHART_WIDTH,
        titled=False,
    )
    exposure = pictures.exposure_by_debtor(
        {"by_debtor": debtors}, names=known, _=gettext, width=CHART_WIDTH, titled=False
    )
    position = statements.my_cash(me=me, rt=rt, mirror=mirror, block=None)
    return render(
        request,
        "financier/home.html",
        {
            "requests": requests,
            "days": days,
            "offered": offered,
            "offers": mine_open,
            "holdings": sorted(held, key=lambda h: (h.due_date, h.debtor, h.piece.piece_id)),
            "expected": sum(h.expected for h in held),
            "debtors": debtors,
            "ladder": ladder,
            "exposure": exposure,
            "cash": position,
            "offer_days": OFFER_DAYS,
        },
    )


def _post(
    ctx: WriteContext, seen: Viewer, *, piece_id: int, rate: str, financing_request_id: int | None
) -> tuple[TxRequestOut, OfferOut | None]:
    """The offer posted, or none yet when it waits for the member's approvers."""
    body = build(
        OfferIn,
        piece_id=piece_id,
        rate_bps=percent_to_bps(rate, field="rate"),
        expires_in_seconds=OFFER_DAYS * 86_400,
        financing_request_id=financing_request_id,
    )
    answer = respond(ctx.rt, financier.post_offer(ctx=ctx, me=seen.member, body=body))
    offer_id = (answer.result or {}).get("offer_id")
    if offer_id is None:
        return answer, None
    offer = financier.get_offer(
        rt=ctx.rt, session=ctx.session, mirror=ctx.mirror, me=seen.member, offer_id=int(offer_id)
    )
    return answer, offer


@router.post("/offers")
def post_offer(
    request: Request,
    seen: FinancierViewer,
    ctx: ConsoleWrite,
    piece_id: Annotated[int, Form(gt=0, lt=2**40)],
    rate: Annotated[str, Form(max_length=16)],
    financing_request_id: Annotated[int | None, Form(gt=0, lt=2**31)] = None,
) -> Response:
    """An offer on a piece at a yearly discount rate; its price goes into escrow."""
    out, offer = _post(
        ctx, seen, piece_id=piece_id, rate=rate, financing_request_id=financing_request_id
    )
    done = (
        tr(
            request,
            "Offer %(id)s posted: %(price)s for piece %(piece)s, held in escrow.",
            id=offer.offer_id,
            price=pictures.money(offer.price),
            piece=piece_id,
        )
        if offer
        else tr(request, "Offer posted.")
    )
    return redirect(HOME, flash=written(request, out, done))


def _second_write(ctx: WriteContext) -> WriteContext:
    """The context of a form's second transaction: under the form's key it would replay the
    first, so it has a key of its own derived from the form's (a form sent again still sends
    neither twice)."""
    if ctx.idem is None:
        return ctx
    idem = Idem(key=f"{ctx.idem.key}/2", request_hash=ctx.idem.request_hash)
    return dataclasses.replace(ctx, idem=idem)


@router.post("/offers/{offer_id}/change")
def change_offer(
    request: Request,
    offer_id: OfferId,
    seen: FinancierViewer,
    ctx: ConsoleWrite,
    rate: Annotated[str, Form(max_length=16)],
) -> Response:
    """A new rate for an open offer: the ledger changes no offer, so it is withdrawn (its
    escrow refunded) and posted anew at the new rate, for the same request."""
    old = financier.get_offer(
        rt=ctx.rt, session=ctx.session, mirror=ctx.mirror, me=seen.member, offer_id=offer_id
    )
    # refusals the new offer would meet, before the old one is withdrawn for nothing: a
    # mistyped rate, a rate above the request's maximum (the service checks the price's rate)
    rate_bps = percent_to_bps(rate, field="rate")
    asked = ctx.session.get(FinancingRequest, old.financing_request_id or 0)
    if asked is not None and rate_bps > asked.max_rate_bps:
        raise Conflict(
            "the offer's rate is above the financing request's maximum",
            code="OfferAboveMaxRate",
            details={
                "pieceId": old.piece_id,
                "financing_request_id": asked.id,
                "rate_bps": rate_bps,
                "max_rate_bps": asked.max_rate_bps,
            },
        )
    respond(ctx.rt, financier.cancel_offer(ctx=ctx, me=seen.member, offer_id=offer_id))
    out, offer = _post(
        _second_write(ctx),
        seen,
        piece_id=old.piece_id,
        rate=rate,
        financing_request_id=old.financing_request_id,
    )
    if offer is not None:
        flash = tr(
            request,
            "Offer %(old)s withdrawn and offer %(id)s posted at %(price)s.",
            old=offer_id,
            id=offer.offer_id,
            price=pictures.money(offer.price),
        )
    else:  # the new offer waits for the member's approvers
        withdrawn = tr(request, "Offer %(old)s withdrawn.", old=offer_id)
        flash = f"{withdrawn} {written(request, out, tr(request, 'Offer posted.'))}"
    return redirect(HOME, flash=flash)


@router.post("/offers/{offer_id}/withdraw")
def withdraw_offer(
    request: Request, offer_id: OfferId, seen: FinancierViewer, ctx: ConsoleWrite
) -> Response:
    out = respond(ctx.rt, financier.cancel_offer(ctx=ctx, me=seen.member, offer_id=offer_id))
    done = tr(request, "Offer %(id)s withdrawn: its escrow is refunded.", id=offer_id)
    return redirect(HOME, flash=written(request, out, done))


@router.get("/cash")
def cash_page(
    request: Request,
    seen: FinancierViewer,
    rt: RuntimeDep,
    session: SessionDep,
    mirror: MirrorDep,
) -> Response:
    position = statements.my_cash(me=seen.member, rt=rt, mirror=mirror, block=None)
    answer = statements.my_statement(
        request,
        me=seen.member,
        rt=rt,
        session=session,
        mirror=mirror,
        from_date=None,
        to_date=None,
        from_block=None,
        to_block=None,
        format="json",
    )
    return render(
        request,
        "financier/cash.html",
        {"cash": position, "statement": json.loads(bytes(answer.body))},
    )
