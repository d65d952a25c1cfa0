"""/v1 receivables (roots): withdrawing a registration before it is confirmed."""

from __future__ import annotations

from fastapi import APIRouter, status

from backend.api.deps import Supplier, WriteDep
from backend.api.errors import ERROR_RESPONSES
from backend.api.params import Accepted, Id40, accepted
from backend.schemas import TxRequestOut
from backend.services import supplier

router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)
ACCEPTED = status.HTTP_202_ACCEPTED


@router.post(
    "/receivables/{root_id}/cancel",
    response_model=TxRequestOut,
    status_code=ACCEPTED,
    tags=["supplier"],
)
def cancel_invoice(
    root_id: Id40,
    me: Supplier,
    ctx: WriteDep,
) -> Accepted:
    """Withdraw a registration the debtor has not confirmed yet."""
    return accepted(ctx.rt, supplier.cancel(ctx=ctx, me=me, root_id=root_id))
