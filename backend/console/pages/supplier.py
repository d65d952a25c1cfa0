"""A supplier's pages: its receivables and pieces (status, maturity, worth today at a quoted
rate), registering an invoice with its files, splitting and passing pieces on, asking for
financing and comparing the offers, its cash, statement and payouts. Every read and write
goes through the service the /v1 route calls, with the same checks."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, Query, Request, Response, UploadFile
from sqlmodel import Session

from backend.api.deps import MirrorDep, RuntimeDep, SessionDep
from backend.api.routes import statements
from backend.console.forms import ConsoleWrite, build, percent_to_bps, yuan_to_fen
from backend.console.pages.approvals import written
from backend.console.render import PREFIX, redirect, render, tr
from backend.console.session import SupplierViewer
from backend.errors import DomainError, InvalidInput
from backend.runtime import Runtime
from backend.schemas import (
    AttachmentKind,
    AttachmentRef,
    FinancingIn,
    InvoiceIn,
    OfferOut,
    PieceOut,
    ProfileOut,
    QuoteOut,
    SplitIn,
    SplitPart,
)
from backend.services import attachments, directory, financier, invoicing, supplier
from backend.services.common import chain_now
from backend.services.context import Principal
from backend.services.tx import respond
from backend.services.views import root_row

router = APIRouter(prefix=f"{PREFIX}/supplier", include_in_schema=False)
HOME = f"{PREFIX}/supplier"
INVOICE_FORM = f"{HOME}/invoices"
#: The yearly rate a piece is valued at today unless the page is asked for another.
DEFAULT_RATE_BPS = 600
MAX_SPLIT_ROWS = 4
PieceId = Annotated[int, Path(gt=0, lt=2**40)]
#: The files the invoice form takes, by the attachment kind each is recorded as.
FILE_KINDS: tuple[tuple[str, AttachmentKind], ...] = (
    ("invoice_file", "invoice"),
    ("contract_file", "purchase_contract"),
    ("delivery_file", "delivery_note"),
)


def _quote(
    rt: Runtime, session: Session, mirror: Session, me: Principal, piece: PieceOut, rate_bps: int
) -> QuoteOut | None:
    """What `piece` is worth today at `rate_bps`; none for a piece no longer movable."""
    if piece.status != "active" or piece.paid:
        return None
    try:
        return financier.quote(
            rt=rt,
            session=session,
            mirror=mirror,
            me=me,
            piece_id=piece.piece_id,
            rate_bps=rate_bps,
        )
    except DomainError:
        return None


@dataclass(frozen=True)
class OfferRow:
    """An offer beside the others: its price, the discount, the yearly rate that price means."""

    offer: OfferOut
    discount: int
    rate_bps: int | None


def compare(offers: list[OfferOut], *, amount: int, days: int) -> list[OfferRow]:
    """The offers on a piece of `amount` maturing in `days`, the best price first; the rate is
    the inverse of the quote's formula (price = amount - amount * rate * days / 3 600 000)."""
    rows = []
    for o in sorted(offers, key=lambda o: -o.price):
        discount = amount - o.price
        rate = round(discount * 3_600_000 / (amount * days)) if days > 0 and amount else None
        rows.append(OfferRow(offer=o, discount=discount, rate_bps=rate))
    return rows


def _offers_by_piece(offers: list[OfferOut]) -> dict[int, list[OfferOut]]:
    out: dict[int, list[OfferOut]] = {}
    for o in offers:
        out.setdefault(o.piece_id, []).append(o)
    for group in out.values():
        group.sort(key=lambda o: -o.price)  # the best price first
    return out


@router.get("")
def home(
    request: Request,
    seen: SupplierViewer,
    rt: RuntimeDep,
    session: SessionDep,
    mirror: MirrorDep,
    rate: Annotated[str | None, Query()] = None,
) -> Response:
    me = seen.member
    rate_bps = DEFAULT_RATE_BPS if not rate else percent_to_bps(rate, field="rate")
    pieces = supplier.list_pieces(
        rt=rt, session=session, mirror=mirror, me=me, held=True, root_id=None, limit=500, after=0
    )
    quotes = {p.piece_id: _quote(rt, session, mirror, me, p, rate_bps) for p in pieces}
    seen_pieces = supplier.list_pieces(
        rt=rt, session=session, mirror=mirror, me=me, held=False, root_id=None, limit=500, after=0
    )
    # what it passed on or sold, as the holders stand now (a split's children, not the parent)
    gone = [p for p in seen_pieces if p.holder.lower() != me.address and p.status == "active"]
    invoices = supplier.list_invoices(
        rt=rt, session=session, mirror=mirror, me=me, limit=100, after=0
    )
    offers = financier.list_offers(
        rt=rt, session=session, mirror=mirror, me=me, status="open", limit=500, after=0
    )
    requests = financier.list_financing(
        rt=rt, session=session, mirror=mirror, me=me, limit=100, after=0
    )
    return render(
        request,
        "supplier/home.html",
        {
            "pieces": pieces,
            "gone": gone,
            "quotes": quotes,
            "rate_bps": rate_bps,
            "invoices": [i for i in invoices if i.seller.lower() == me.address],
            "offers": _offers_by_piece(offers),
            "requests": [r for r in requests if r.status == "open"],
            "now": chain_now(rt),
        },
    )


# -- invoices ------------------------------------------------------------------------------------


def _directory(rt: Runtime, session: Session, mirror: Session, me: Principal) -> list[ProfileOut]:
    """The members this supplier may see in the directory, but itself."""
    return [
        p for p in directory.listing(session, mirror, rt, me) if p.address.lower() != me.address
    ]


@router.get("/invoices/new")
def new_invoice(
    request: Request,
    seen: SupplierViewer,
    rt: RuntimeDep,
    session: SessionDep,
    mirror: MirrorDep,
) -> Response:
    today = date.fromtimestamp(chain_now(rt))
    return render(
        request,
        "supplier/invoice_new.html",
        {
            "members": _directory(rt, session, mirror, seen.member),
            "today": today.isoformat(),
        },
    )


@router.post(INVOICE_FORM.removeprefix(HOME))
def register_invoice(
    request: Request,
    seen: SupplierViewer,
    ctx: ConsoleWrite,
    number: Annotated[str, Form()] = "",
    buyer: Annotated[str, Form()] = "",
    amount: Annotated[str, Form()] = "",
    issue_date: Annotated[str, Form()] = "",
    due_date: Annotated[str, Form()] = "",
    invoice_file: Annotated[UploadFile | None, File()] = None,
    contract_file: Annotated[UploadFile | None, File()] = None,
    delivery_file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """The files first (as POST /v1/attachments), then the invoice naming them (as POST
    /v1/invoices), waiting for the ledger."""
    me = seen.member
    # the form checked before any file is stored
    body = build(
        InvoiceIn,
        number=number.strip(),
        seller=me.address,
        buyer=buyer.strip(),
        amount=yuan_to_fen(amount, field="amount"),
        issue_date=issue_date,
        due_date=due_date,
    )
    files = {
        "invoice_file": invoice_file,
        "contract_file": contract_file,
        "delivery_file": delivery_file,
    }
    refs = []
    for field, kind in FILE_KINDS:
        upload = files[field]
        if upload is None or not upload.filename:
            continue
        data = attachments.read_capped(upload.file, ctx.rt.settings.max_attachment_bytes)
        held = attachments.upload(
            rt=ctx.rt, session=ctx.session, me=me, data=data, file_name=upload.filename
        )
        refs.append(AttachmentRef(sha256=held.sha256, kind=kind))
    body = build(InvoiceIn, **{**body.model_dump(), "attachments": refs})
    doc, req = invoicing.originate(ctx=ctx, me=me, body=body, issue=False)
    out = respond(ctx.rt, req)
    return redirect(
        HOME,
        flash=tr(
            request,
            "Invoice %(number)s registered: waiting for the buyer to confirm it (%(status)s).",
            number=doc.number,
            status=out.status,
        ),
    )


# -- pieces --------------------------------------------------------------------------------------


@router.get("/pieces/{piece_id}")
def piece_page(
    request: Request,
    piece_id: PieceId,
    seen: SupplierViewer,
    rt: RuntimeDep,
    session: SessionDep,
    mirror: MirrorDep,
    rate: Annotated[str | None, Query()] = None,
) -> Response:
    me = seen.member
    piece = supplier.get_piece(rt=rt, session=session, mirror=mirror, me=me, piece_id=piece_id)
    rate_bps = DEFAULT_RATE_BPS if not rate else percent_to_bps(rate, field="rate")
    offers = financier.list_offers(
        rt=rt, session=session, mirror=mirror, me=me, status="open", limit=500, after=0
    )
    requests = financier.list_financing(
        rt=rt, session=session, mirror=mirror, me=me, limit=100, after=0
    )
    root = root_row(mirror, rt, piece.root_id)
    quote = _quote(rt, session, mirror, me, piece, rate_bps)
    days = quote.days if quote is not None else 0
    return render(
        request,
        "supplier/piece.html",
        {
            "piece": piece,
            "held": piece.holder.lower() == me.address,
            "quote": quote,
            "rate_bps": rate_bps,
            "offers": compare(
                _offers_by_piece(offers).get(piece_id, []), amount=piece.amount, days=days
            ),
            "requests": [r for r in requests if r.piece_id == piece_id and r.status == "open"],
            "members": _directory(rt, session, mirror, me),
            "rows": range(MAX_SPLIT_ROWS),
            "due_date": root.due_date if root is not None else None,
            "now": chain_now(rt),
        },
    )


@router.post("/pieces/{piece_id}/split")
def split_piece(
    request: Request,
    piece_id: PieceId,
    seen: SupplierViewer,
    ctx: ConsoleWrite,
    to: Annotated[list[str] | None, Form()] = None,
    amount: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """Split a held piece: the rows filled in go to their members, the rest stays with the
    holder (as one more part of POST /v1/pieces/{id}/split)."""
    me = seen.member
    piece = supplier.get_piece(
        rt=ctx.rt, session=ctx.session, mirror=ctx.mirror, me=me, piece_id=piece_id
    )
    rows = [(t.strip(), a.strip()) for t, a in zip(to or [], amount or [], strict=False)]
    parts: list[dict[str, Any]] = []
    for n, (member, value) in enumerate(rows, start=1):
        if not member and not value:
            continue
        if not member:
            raise InvalidInput(
                f"part {n}: choose the member it goes to",
                details={"fields": [{"field": f"to (part {n})", "msg": "choose a member"}]},
            )
        parts.append({"to": member, "amount": yuan_to_fen(value, field=f"amount (part {n})")})
    rest = piece.amount - sum(int(p["amount"]) for p in parts)
    if rest < 0:
        raise InvalidInput(
            f"the parts add up to more than the piece's {piece.amount / 100:,.2f} yuan",
            code="SplitTooLarge",
            details={"piece_amount": piece.amount, "parts": parts},
        )
    if rest > 0:
        parts.append({"to": me.address, "amount": rest})
    body = build(SplitIn, parts=[build(SplitPart, **p) for p in parts])
    out = respond(ctx.rt, supplier.split(ctx=ctx, me=me, piece_id=piece_id, body=body))
    done = tr(request, "Piece %(id)s split.", id=piece_id)
    return redirect(HOME, flash=written(request, out, done))


@router.post("/pieces/{piece_id}/transfer")
def transfer_piece(
    request: Request,
    piece_id: PieceId,
    seen: SupplierViewer,
    ctx: ConsoleWrite,
    to: Annotated[str, Form()] = "",
) -> Response:
    if not to.strip():
        raise InvalidInput(
            "to: choose the member to pass the piece to",
            details={"fields": [{"field": "to", "msg": "choose a member"}]},
        )
    req = supplier.transfer(ctx=ctx, me=seen.member, piece_id=piece_id, to=to.strip().lower())
    out = respond(ctx.rt, req)
    done = tr(request, "Piece %(id)s passed on.", id=piece_id)
    return redirect(HOME, flash=written(request, out, done))


@router.post("/pieces/{piece_id}/financing")
def ask_financing(
    request: Request,
    piece_id: PieceId,
    seen: SupplierViewer,
    rt: RuntimeDep,
    session: SessionDep,
    mirror: MirrorDep,
    amount_wanted: Annotated[str, Form()] = "",
    max_rate: Annotated[str, Form()] = "",
) -> Response:
    body = build(
        FinancingIn,
        piece_id=piece_id,
        amount_wanted=yuan_to_fen(amount_wanted, field="amount_wanted"),
        max_rate_bps=percent_to_bps(max_rate, field="max_rate"),
    )
    fr = supplier.request_financing(
        rt=rt, session=session, mirror=mirror, me=seen.member, body=body
    )
    return redirect(
        f"{HOME}/pieces/{piece_id}",
        flash=tr(
            request,
            "Financing asked for (request %(id)s): financiers can make offers now.",
            id=fr.id,
        ),
    )


@router.post("/financing/{request_id}/cancel")
def cancel_financing(
    request: Request,
    request_id: Annotated[int, Path(gt=0, lt=2**63)],
    seen: SupplierViewer,
    session: SessionDep,
) -> Response:
    fr = supplier.cancel_financing(session=session, me=seen.member, request_id=request_id)
    return redirect(
        f"{HOME}/pieces/{fr.piece_id}",
        flash=tr(request, "Financing request %(id)s withdrawn.", id=request_id),
    )


@router.post("/offers/{offer_id}/accept")
def accept_offer(
    request: Request,
    offer_id: Annotated[int, Path(gt=0, lt=2**40)],
    seen: SupplierViewer,
    ctx: ConsoleWrite,
) -> Response:
    req = supplier.accept_offer(ctx=ctx, me=seen.member, offer_id=offer_id)
    out = respond(ctx.rt, req)
    done = tr(request, "Offer %(id)s accepted: the piece is sold.", id=offer_id)
    return redirect(f"{HOME}/cash", flash=written(request, out, done))


# -- cash ----------------------------------------------------------------------------------------


@router.get("/cash")
def cash_page(
    request: Request,
    seen: SupplierViewer,
    rt: RuntimeDep,
    session: SessionDep,
    mirror: MirrorDep,
) -> Response:
    position = statements.my_cash(me=seen.member, rt=rt, mirror=mirror, block=None)
    answer = statements.my_remittances(
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
    payouts = json.loads(bytes(answer.body))
    return render(request, "supplier/cash.html", {"cash": position, "payouts": payouts})
