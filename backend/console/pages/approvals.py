"""The approval queue (maker-checker): what waits for a second person, with what the approver
decides on, approved as exactly what was shown (its action_hash) or rejected with a reason; and
what a write made under a policy says instead of "done"."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, Response
from sqlmodel import Session

from backend.api.deps import MirrorDep, RuntimeDep, SessionDep, runtime_of
from backend.console.forms import ConsoleWrite, build
from backend.console.i18n import N_
from backend.console.render import EXTRA_NAV, PREFIX, NavItem, redirect, render, tr
from backend.console.session import ActiveViewer, Viewer
from backend.errors import Conflict, Forbidden
from backend.models import TxStatus
from backend.permissions import Permission
from backend.schemas import ApprovalIn, PendingOut, RejectionIn, TxRequestOut
from backend.services import approvals, staff
from backend.services.context import WriteContext

router = APIRouter(prefix=f"{PREFIX}/approvals", include_in_schema=False)
HOME = f"{PREFIX}/approvals"

#: Each action as the queue names it, with the parameters it fills in.
DOING: dict[str, str] = {
    "root.confirm": N_("Confirm receivable #%(root_id)s"),
    "root.reject": N_("Reject invoice of receivable #%(root_id)s"),
    "root.issue": N_("Issue a payable"),
    "root.register": N_("Register an invoice"),
    "root.repay": N_("Repay receivable #%(root_id)s"),
    "offer.post": N_("Offer to buy piece #%(piece_id)s"),
    "offer.accept": N_("Sell piece #%(piece_id)s (accept offer #%(offer_id)s)"),
    "piece.split": N_("Split piece #%(piece_id)s"),
    "piece.transfer": N_("Pass on piece #%(piece_id)s"),
}
#: What a queue lists, by the status it is filtered on.
SHOWN = ("pending_approval", "mined", "queued", "rejected", "expired", "failed")
DECISION_LABELS = {"approved": N_("approved"), "rejected": N_("rejected")}


def doing(request: Request, action: str, params: dict[str, Any]) -> str:
    text = tr(request, DOING.get(action, action))
    try:
        return text % params
    except (KeyError, TypeError, ValueError):
        return text


def applies(request: Request, seen: Viewer) -> bool:
    """The queue is for members with people: a staff user's, or the member's own session
    when it has staff users."""
    if seen.member.user is not None:
        return True
    with Session(runtime_of(request).engine) as session:
        return staff.has_staff(session, seen.member.address)


EXTRA_NAV.append(NavItem(HOME, N_("Approvals"), (), when=applies))


def written(request: Request, out: TxRequestOut, done: str) -> str:
    """The flash after a write: `done`, or that it waits for its approvers."""
    if out.status != TxStatus.PENDING_APPROVAL:
        return done
    return tr(
        request,
        "%(what)s is waiting for approval: %(n)d other person(s) must approve it before it is "
        "sent.",
        what=doing(request, out.action, out.params),
        n=out.approvals_required,
    )


@dataclass(frozen=True)
class Item:
    """A request in the queue and what the viewer may do with it."""

    pending: PendingOut
    title: str
    mine: bool  # the viewer made it: it may withdraw, not approve
    decided: bool  # the viewer has decided on it already
    entitled: bool  # the viewer holds the approver permission, within its amount limit

    @property
    def approved(self) -> int:
        return sum(1 for d in self.pending.decisions if d.decision == "approved")


def _read_context(request: Request, session: Session, mirror: Session) -> WriteContext:
    """The services take a write context to read the queue too (it expires lapsed requests)."""
    return WriteContext(
        rt=runtime_of(request), session=session, mirror=mirror, idem=None, wait=False
    )


def _entitled(seen: Viewer, pending: PendingOut) -> bool:
    """Whether the service would let the viewer approve it (the button is offered then)."""
    try:
        seen.member.require(Permission(pending.approver_permission), amount=pending.amount)
    except Forbidden:
        return False
    return True


@router.get("")
def queue(
    request: Request,
    seen: ActiveViewer,
    rt: RuntimeDep,
    session: SessionDep,
    mirror: MirrorDep,
    status: Annotated[str | None, Query()] = None,
) -> Response:
    chosen = status if status in SHOWN else "pending_approval"
    ctx = _read_context(request, session, mirror)
    listing = approvals.listing(ctx=ctx, me=seen.member, status=TxStatus(chosen), limit=100)
    me = seen.member.login
    items = [
        Item(
            pending=p,
            title=doing(request, p.request.action, p.request.params),
            mine=me is not None and p.request.made_by == me,
            decided=me is not None and any(d.login == me for d in p.decisions),
            entitled=_entitled(seen, p),
        )
        for p in listing
    ]
    return render(
        request,
        "staff/approvals.html",
        {
            "items": items,
            "status": chosen,
            "statuses": SHOWN,
            "decision_labels": DECISION_LABELS,
            "person": seen.member.user,
        },
    )


@router.post("/{request_id}/approve")
def approve(
    request: Request,
    request_id: str,
    seen: ActiveViewer,
    ctx: ConsoleWrite,
    action_hash: Annotated[str, Form()] = "",
) -> Response:
    """Approve what the page showed: its action_hash comes with the form."""
    body = build(ApprovalIn, action_hash=action_hash.strip())
    out = approvals.approve(
        ctx=ctx, me=seen.member, request_id=request_id, action_hash=body.action_hash
    )
    req = out.request
    title = doing(request, req.action, req.params)
    if req.status == TxStatus.FAILED:
        raise Conflict(
            req.error_message or "the ledger refused the transaction",
            code=req.error_code or "TransactionFailed",
            details={"transaction": req.id},
        )
    if req.status == TxStatus.PENDING_APPROVAL:
        message = tr(request, "Approved: %(what)s still waits for another approver.", what=title)
    elif req.status == TxStatus.MINED:
        message = tr(request, "Approved: %(what)s is done on the ledger.", what=title)
    else:
        message = tr(request, "Approved: %(what)s is sent to the ledger.", what=title)
    return redirect(HOME, flash=message)


@router.post("/{request_id}/reject")
def reject(
    request: Request,
    request_id: str,
    seen: ActiveViewer,
    ctx: ConsoleWrite,
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Turn it down with a reason (its maker withdraws it so): nothing is sent."""
    body = build(RejectionIn, reason=reason.strip())
    out = approvals.reject(ctx=ctx, me=seen.member, request_id=request_id, reason=body.reason)
    title = doing(request, out.request.action, out.request.params)
    return redirect(HOME, flash=tr(request, "Rejected: %(what)s. Nothing was sent.", what=title))
