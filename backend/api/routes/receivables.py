"""/v1 receivables (roots): withdrawing a registration before it is confirmed, refusing a
payable issued in one's name (suppliers), closing an overdue receivable (the operator)."""

from __future__ import annotations

from fastapi import APIRouter, status

from backend.api.deps import Operator, Supplier, WriteDep, may_do
from backend.api.errors import ERROR_RESPONSES
from backend.api.params import Accepted, Id40, accepted
from backend.schemas import ReasonIn, TxRequestOut
from backend.services import operator, supplier

router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)
ACCEPTED = status.HTTP_202_ACCEPTED


@router.post(
    "/receivables/{root_id}/cancel",
    response_model=TxRequestOut,
    status_code=ACCEPTED,
    tags=["supplier"],
    dependencies=[may_do("root.cancel")],
)
def cancel_invoice(
    root_id: Id40,
    me: Supplier,
    ctx: WriteDep,
) -> Accepted:
    """Withdraw a registration the debtor has not confirmed yet."""
    return accepted(ctx.rt, supplier.cancel(ctx=ctx, me=me, root_id=root_id))


@router.post(
    "/receivables/{root_id}/refuse",
    response_model=TxRequestOut,
    status_code=ACCEPTED,
    tags=["supplier"],
    dependencies=[may_do("root.refuse")],
)
def refuse_payable(
    root_id: Id40,
    body: ReasonIn,
    me: Supplier,
    ctx: WriteDep,
) -> Accepted:
    """Refuse a payable a core enterprise issued in this supplier's name that it never agreed
    to, while its root piece is whole, held by the supplier, unpaid, unfrozen and not due: the
    piece is burned, the debtor's credit released, and the invoice number free again for the
    supplier's genuine invoice."""
    return accepted(ctx.rt, supplier.refuse(ctx=ctx, me=me, root_id=root_id, reason=body.reason))


@router.post(
    "/receivables/{root_id}/close",
    response_model=TxRequestOut,
    status_code=ACCEPTED,
    tags=["operator"],
    dependencies=[may_do("root.close")],
)
def close_receivable(
    root_id: Id40,
    me: Operator,
    ctx: WriteDep,
) -> Accepted:
    """End an overdue receivable its debtor will not repay in full, once its distribution pass
    is complete and nothing of it is frozen: no further repayment is taken, and the rounding
    remainder in escrow goes to the holder paid last (the unpaid rest stays owed off the ledger)."""
    return accepted(ctx.rt, operator.close(ctx=ctx, me=me, root_id=root_id))
