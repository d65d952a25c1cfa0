"""/v1 the ledger's own state: its settings and clock (everyone), settlement cash issued and
redeemed, pause (the operator)."""

from __future__ import annotations

from fastapi import APIRouter, status

from backend.api.deps import CurrentMember, MirrorDep, Operator, RuntimeDep, WriteDep, may_do
from backend.api.errors import ERROR_RESPONSES
from backend.api.params import Accepted, accepted
from backend.schemas import CashIn, LedgerOut, TxRequestOut
from backend.services import ledger, operator

router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)
ACCEPTED = status.HTTP_202_ACCEPTED


@router.get("/ledger", response_model=LedgerOut, tags=["ledger"])
def settings(me: CurrentMember, mirror: MirrorDep, rt: RuntimeDep) -> LedgerOut:
    """Settlement currency, grace period, split depth, minimum piece, live-piece cap, the
    latest due date allowed, and the ledger's clock."""
    return ledger.settings(mirror, rt)


@router.post(
    "/operator/cash/mint",
    response_model=TxRequestOut,
    status_code=ACCEPTED,
    tags=["operator"],
    dependencies=[may_do("cash.mint")],
)
def mint(
    body: CashIn,
    me: Operator,
    ctx: WriteDep,
) -> Accepted:
    """Issue settlement cash against a deposit at the settlement bank."""
    return accepted(
        ctx.rt,
        operator.cash(
            ctx=ctx,
            me=me,
            action="cash.mint",
            account=body.account,
            amount=body.amount,
        ),
    )


@router.post(
    "/operator/cash/burn",
    response_model=TxRequestOut,
    status_code=ACCEPTED,
    tags=["operator"],
    dependencies=[may_do("cash.burn")],
)
def burn(
    body: CashIn,
    me: Operator,
    ctx: WriteDep,
) -> Accepted:
    """Redeem a member's settlement cash (paid out off-ledger)."""
    return accepted(
        ctx.rt,
        operator.cash(
            ctx=ctx,
            me=me,
            action="cash.burn",
            account=body.account,
            amount=body.amount,
        ),
    )


@router.post(
    "/operator/pause",
    response_model=TxRequestOut,
    status_code=ACCEPTED,
    tags=["operator"],
    dependencies=[may_do("ledger.pause")],
)
def pause(
    me: Operator,
    ctx: WriteDep,
) -> Accepted:
    return accepted(ctx.rt, operator.pause(ctx=ctx, me=me, paused=True))


@router.post(
    "/operator/unpause",
    response_model=TxRequestOut,
    status_code=ACCEPTED,
    tags=["operator"],
    dependencies=[may_do("ledger.unpause")],
)
def unpause(
    me: Operator,
    ctx: WriteDep,
) -> Accepted:
    return accepted(ctx.rt, operator.pause(ctx=ctx, me=me, paused=False))
