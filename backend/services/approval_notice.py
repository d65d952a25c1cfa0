"""What the approvers are told when an action waits for them, and how an action reads in a
sentence (the inbox, the console's approval queue)."""

from __future__ import annotations

from backend.models import NotificationKind, TxRequest
from backend.services import notifications
from backend.services.context import WriteContext
from backend.services.notifications import Draft, money

#: what each action is, in a sentence an approver reads in its inbox
_DOING = {
    "root.confirm": "confirm receivable {root_id}",
    "root.reject": "reject invoice {root_id}",
    "root.issue": "issue a payable to {supplier}",
    "root.register": "register an invoice on {debtor}",
    "root.repay": "repay receivable {root_id}",
    "offer.post": "offer to buy piece {piece_id}",
    "offer.accept": "sell piece {piece_id} (accept offer {offer_id})",
    "piece.split": "split piece {piece_id}",
    "piece.transfer": "pass on piece {piece_id}",
}


def describe(req: TxRequest) -> str:
    try:
        return _DOING.get(req.action, req.action).format(**req.params)
    except (KeyError, IndexError):
        return req.action


def notify_requested(ctx: WriteContext, req: TxRequest, amount: int | None) -> None:
    """Tell the member's approvers (its inbox, webhooks, e-mail) that an action waits (the
    caller commits)."""
    worth = f" ({money(amount, ctx.rt.settings.settlement_currency)})" if amount else ""
    who = req.made_by or "the member's own key"
    notifications.record(
        ctx.session,
        ctx.rt,
        [
            Draft(
                member=req.member,
                kind=NotificationKind.APPROVAL_REQUESTED,
                ref=f"approval:{req.id}",
                title=f"Approval needed: {describe(req)}{worth}",
                message=f"{who} asks to {describe(req)}{worth}; it needs "
                f"{req.approvals_required} approver(s) other than {who} before it is sent "
                f"(GET /v1/approvals/{req.id}).",
                data={"transaction": req.id, "action": req.action, "amount": amount},
            )
        ],
    )


def notify_rejected(ctx: WriteContext, req: TxRequest, *, by: str, reason: str) -> None:
    """Tell the member (its maker among its people) that an action was turned down."""
    notifications.record(
        ctx.session,
        ctx.rt,
        [
            Draft(
                member=req.member,
                kind=NotificationKind.APPROVAL_REJECTED,
                ref=f"rejected:{req.id}",
                title=f"Rejected: {describe(req)}",
                message=f"{by} rejected the request of {req.made_by or 'the member'} to "
                f"{describe(req)}: {reason}. Nothing was sent.",
                data={"transaction": req.id, "action": req.action, "reason": reason},
            )
        ],
    )
