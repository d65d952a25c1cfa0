"""/v1/payables: a core enterprise confirms, rejects, issues and repays; credit usage."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, status

from backend.api.deps import (
    CoreEnterprise,
    Debtor,
    MirrorDep,
    RuntimeDep,
    ServiceReplayWriteDep,
    WriteDep,
    may_do,
)
from backend.api.errors import ERROR_RESPONSES
from backend.api.params import Accepted, After, Id40, Limit, accepted
from backend.schemas import (
    CreditOut,
    InvoiceCreated,
    InvoiceIn,
    RejectIn,
    RepayIn,
    RootOut,
    TxRequestOut,
)
from backend.services import core as svc
from backend.services import invoicing, supplier

router = APIRouter(prefix="/v1", tags=["core enterprise"], responses=ERROR_RESPONSES)
ACCEPTED = status.HTTP_202_ACCEPTED
PayableFilter = Literal[
    "registered",
    "confirmed",
    "rejected",
    "cancelled",
    "overdue",
    "settled",
    "refused",
    "closed",
    "outstanding",
]


@router.get("/payables", response_model=list[RootOut])
def list_payables(
    me: Debtor,
    rt: RuntimeDep,
    mirror: MirrorDep,
    status_: Annotated[
        PayableFilter | None,
        Query(alias="status", description="registered = awaiting confirmation"),
    ] = None,
    limit: Limit = 100,
    after: After = 0,
) -> list[RootOut]:
    return svc.list_payables(rt=rt, mirror=mirror, me=me, status=status_, limit=limit, after=after)


@router.get("/payables/credit", response_model=CreditOut)
def credit(me: Debtor, rt: RuntimeDep, mirror: MirrorDep) -> CreditOut:
    """Credit limit, usage, and outstanding payables (a suspended debtor too: it still owes)."""
    return svc.credit(rt=rt, mirror=mirror, me=me)


@router.post(
    "/payables",
    response_model=InvoiceCreated,
    status_code=ACCEPTED,
    dependencies=[may_do("root.issue")],
)
def issue(
    body: InvoiceIn,
    me: CoreEnterprise,
    ctx: ServiceReplayWriteDep,
) -> Accepted:
    """Issue a confirmed payable to the invoice's seller in one step."""
    doc, req = invoicing.originate(ctx=ctx, me=me, body=body, issue=True)
    return Accepted(supplier.created(ctx, doc, req))


@router.post(
    "/payables/{root_id}/confirm",
    response_model=TxRequestOut,
    status_code=ACCEPTED,
    dependencies=[may_do("root.confirm")],
)
def confirm(
    root_id: Id40,
    me: CoreEnterprise,
    ctx: WriteDep,
) -> Accepted:
    """Confirm (确权) a registered invoice: it becomes a receivable against the credit limit."""
    return accepted(ctx.rt, svc.confirm(ctx=ctx, me=me, root_id=root_id))


@router.post(
    "/payables/{root_id}/reject",
    response_model=TxRequestOut,
    status_code=ACCEPTED,
    dependencies=[may_do("root.reject")],
)
def reject(
    root_id: Id40,
    body: RejectIn,
    me: CoreEnterprise,
    ctx: WriteDep,
) -> Accepted:
    return accepted(
        ctx.rt,
        svc.reject(
            ctx=ctx,
            me=me,
            root_id=root_id,
            reason=body.reason,
        ),
    )


@router.post(
    "/payables/{root_id}/repay",
    response_model=TxRequestOut,
    status_code=ACCEPTED,
    dependencies=[may_do("root.repay")],
)
def repay(
    root_id: Id40,
    body: RepayIn,
    me: Debtor,
    ctx: WriteDep,
) -> Accepted:
    """Pay (part of) what is owed into escrow; the keeper distributes it to the holders. A
    suspended debtor may repay too: money owed must reach the holders."""
    return accepted(
        ctx.rt,
        svc.repay(
            ctx=ctx,
            me=me,
            root_id=root_id,
            amount=body.amount,
        ),
    )
