"""A core enterprise's pages: invoices awaiting its confirmation with their documents,
confirming or rejecting them, its payables by due date, its credit limit used and free,
repaying (in instalments) and what it owes next week and next month."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Form, Path, Request, Response
from markupsafe import Markup

from backend.api.deps import MirrorDep, RuntimeDep, SessionDep
from backend.console import i18n, pictures
from backend.console.forms import ConsoleWrite, build, yuan_to_fen
from backend.console.pages.approvals import written
from backend.console.render import PREFIX, language, redirect, render, tr
from backend.console.session import CoreViewer, DebtorViewer
from backend.schemas import InvoiceAttachmentsOut, InvoiceOut, RejectIn, RootOut
from backend.services import attachments, supplier
from backend.services import core as svc
from backend.services.common import chain_now
from backend.services.tx import respond

router = APIRouter(prefix=f"{PREFIX}/core", include_in_schema=False)
HOME = f"{PREFIX}/core"
RootId = Annotated[int, Path(gt=0, lt=2**40)]
DAY = 86_400
OWED = ("confirmed", "overdue")


@dataclass(frozen=True)
class Awaiting:
    """A registration to confirm: the ledger's root, its invoice and the files behind it."""

    root: RootOut
    invoice: InvoiceOut | None
    files: InvoiceAttachmentsOut | None


def owed_within(payables: list[RootOut], *, now: int, days: int) -> int:
    """What falls due from now to `days` ahead (and what is overdue already), still unpaid."""
    until = now + days * DAY
    return sum(p.outstanding for p in payables if p.status in OWED and p.due_date <= until)


@router.get("")
def home(
    request: Request, seen: DebtorViewer, rt: RuntimeDep, session: SessionDep, mirror: MirrorDep
) -> Response:
    me = seen.member
    payables = svc.list_payables(rt=rt, mirror=mirror, me=me, status=None, limit=500, after=0)
    invoices = {
        i.root_id: i
        for i in supplier.list_invoices(
            rt=rt, session=session, mirror=mirror, me=me, limit=500, after=0
        )
        if i.root_id is not None
    }
    awaiting = []
    for root in payables:
        if root.status != "registered":
            continue
        invoice = invoices.get(root.root_id)
        files = (
            attachments.listing(rt=rt, session=session, mirror=mirror, me=me, invoice_id=invoice.id)
            if invoice is not None
            else None
        )
        awaiting.append(Awaiting(root=root, invoice=invoice, files=files))
    owed = sorted((p for p in payables if p.status in OWED), key=lambda p: p.due_date)
    now = chain_now(rt)
    return render(
        request,
        "core/home.html",
        {
            "awaiting": awaiting,
            "payables": owed,
            "invoices": invoices,
            "credit": svc.credit(rt=rt, mirror=mirror, me=me),
            "next_week": owed_within(owed, now=now, days=7),
            "next_month": owed_within(owed, now=now, days=30),
            "now": now,
            "calendar": _calendar(request, owed, now=now),
        },
    )


def _calendar(request: Request, payables: list[RootOut], *, now: int) -> Markup:
    """The month of the next payable still ahead (this month when none is) as a calendar of
    what falls due each day."""
    today = datetime.fromtimestamp(now, UTC).date()
    ahead = [p.due_date for p in payables if p.due_date >= now]
    month = datetime.fromtimestamp(min(ahead), UTC).date() if ahead else today
    return pictures.calendar(
        [(p.due_date, p.outstanding) for p in payables],
        year=month.year,
        month=month.month,
        today=now,
        _=i18n.translations(language(request)).gettext,
    )


@router.post("/payables/{root_id}/confirm")
def confirm(request: Request, root_id: RootId, seen: CoreViewer, ctx: ConsoleWrite) -> Response:
    out = respond(ctx.rt, svc.confirm(ctx=ctx, me=seen.member, root_id=root_id))
    done = tr(request, "Receivable %(id)s confirmed: it is now payable.", id=root_id)
    return redirect(HOME, flash=written(request, out, done))


@router.post("/payables/{root_id}/reject")
def reject(
    request: Request,
    root_id: RootId,
    seen: CoreViewer,
    ctx: ConsoleWrite,
    reason: Annotated[str, Form()] = "",
) -> Response:
    body = build(RejectIn, reason=reason.strip())
    out = respond(ctx.rt, svc.reject(ctx=ctx, me=seen.member, root_id=root_id, reason=body.reason))
    done = tr(request, "Receivable %(id)s rejected.", id=root_id)
    return redirect(HOME, flash=written(request, out, done))


@router.post("/payables/{root_id}/repay")
def repay(
    request: Request,
    root_id: RootId,
    seen: DebtorViewer,
    ctx: ConsoleWrite,
    amount: Annotated[str, Form()] = "",
) -> Response:
    """An instalment, or (left empty) everything still owed, as POST /v1/payables/{id}/repay."""
    fen = yuan_to_fen(amount, field="amount") if amount.strip() else None
    out = respond(ctx.rt, svc.repay(ctx=ctx, me=seen.member, root_id=root_id, amount=fen))
    done = tr(request, "Repayment of receivable %(id)s sent.", id=root_id)
    return redirect(HOME, flash=written(request, out, done))
