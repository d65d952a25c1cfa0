"""Core enterprise: payables to confirm or reject, repayment, credit usage."""

from __future__ import annotations

from sqlmodel import Session, col, func, select

from backend.errors import refusal
from backend.models import TxRequest
from backend.runtime import Runtime
from backend.schemas import CreditOut, RootOut
from backend.services import checks
from backend.services.common import chain_now
from backend.services.context import Principal, WriteContext
from backend.services.tx import submit
from backend.services.views import root_out, visible_root
from chain.enums import Role, RootStatus
from indexer.models import Root

STATUS_NAMES = {s.name.lower(): s for s in RootStatus if s != RootStatus.NONE}


def list_payables(
    *, rt: Runtime, mirror: Session, me: Principal, status: str | None, limit: int, after: int
) -> list[RootOut]:
    stmt = select(Root).where(
        Root.chain_id == rt.chain_id, Root.debtor == me.address, col(Root.root_id) > after
    )
    if status == "outstanding":
        stmt = stmt.where(col(Root.status).in_(RootStatus.PAYABLE))
    elif status is not None:
        stmt = stmt.where(Root.status == int(STATUS_NAMES[status]))
    rows = mirror.exec(stmt.order_by(col(Root.root_id)).limit(limit)).all()
    return [root_out(r) for r in rows]


def _debtor_root(mirror: Session, rt: Runtime, me: Principal, root_id: int) -> Root:
    root = visible_root(mirror, rt, me, root_id)
    if root.debtor != me.address:
        raise refusal(
            "ReceivablesNotDebtor",
            rootId=root_id,
            caller=me.address,
        )
    return root


def confirm(
    *,
    ctx: WriteContext,
    me: Principal,
    root_id: int,
) -> TxRequest:
    root = _debtor_root(ctx.mirror, ctx.rt, me, root_id)
    checks.root_status(root, RootStatus.REGISTERED)
    checks.not_paused(ctx.mirror, ctx.rt)
    checks.active_with_role(ctx.mirror, ctx.rt, root.supplier, Role.SUPPLIER)
    if root.frozen:
        raise refusal("ReceivablesRootFrozen", rootId=root_id)
    if chain_now(ctx.rt) >= root.due_date:
        raise refusal("ReceivablesInvalidDueDate", dueDate=root.due_date)
    checks.within_credit(me, int(root.face_value))
    return submit(
        ctx=ctx,
        member=me,
        action="root.confirm",
        params={"root_id": root_id},
        amount=int(root.face_value),
    )


def reject(
    *,
    ctx: WriteContext,
    me: Principal,
    root_id: int,
    reason: str,
) -> TxRequest:
    root = _debtor_root(ctx.mirror, ctx.rt, me, root_id)
    checks.root_status(root, RootStatus.REGISTERED)
    checks.not_paused(ctx.mirror, ctx.rt)
    return submit(
        ctx=ctx,
        member=me,
        action="root.reject",
        params={"root_id": root_id, "reason": reason},
        amount=int(root.face_value),
    )


def repay(
    *,
    ctx: WriteContext,
    me: Principal,
    root_id: int,
    amount: int | None,
) -> TxRequest:
    root = _debtor_root(ctx.mirror, ctx.rt, me, root_id)
    checks.root_status(root, *RootStatus.PAYABLE)
    checks.not_paused(ctx.mirror, ctx.rt)
    outstanding = int(root.face_value) - int(root.repaid)
    amount = outstanding if amount is None else amount
    if amount == 0:
        raise refusal("ReceivablesZeroAmount")
    if amount > outstanding:
        raise refusal(
            "ReceivablesRepaymentExceedsOutstanding",
            rootId=root_id,
            outstanding=outstanding,
            amount=amount,
        )
    checks.enough_cash(ctx.mirror, ctx.rt, me.address, amount)
    return submit(
        ctx=ctx,
        member=me,
        action="root.repay",
        params={"root_id": root_id, "amount": amount},
    )


def credit(*, rt: Runtime, mirror: Session, me: Principal) -> CreditOut:
    outstanding = mirror.exec(
        select(func.coalesce(func.sum(Root.face_value - Root.repaid), 0)).where(
            Root.chain_id == rt.chain_id,
            Root.debtor == me.address,
            col(Root.status).in_(RootStatus.PAYABLE),
        )
    ).one()
    return CreditOut(
        credit_limit=me.credit_limit,
        credit_used=me.credit_used,
        available=max(me.credit_limit - me.credit_used, 0),
        outstanding_payables=int(outstanding),
    )
