"""Operator: onboarding and activation codes, roles, status, credit limits, settlement cash,
pause, closing an overdue receivable."""

from __future__ import annotations

from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from sqlmodel import Session, col, func, select

from backend.errors import Conflict, NotFound, refusal
from backend.models import Alert, TxRequest
from backend.permissions import Permission
from backend.runtime import Runtime
from backend.schemas import (
    ActivationOut,
    MemberCreated,
    MemberIn,
    MemberOut,
    TxRequestOut,
    WriteWarning,
)
from backend.services import activation, checks, directory
from backend.services.common import ledger_status
from backend.services.context import Principal, WriteContext, by_key
from backend.services.tx import replay, respond, submit
from backend.services.views import member_out, member_row, roles_from_names, root_row
from chain.consortium import entity_id
from chain.enums import MemberStatus, PieceStatus, Role, RootStatus
from indexer.models import CashBalance, Member, Piece


def onboard(
    *,
    ctx: WriteContext,
    me: Principal,
    body: MemberIn,
) -> MemberCreated:
    roles = roles_from_names(body.roles)
    if body.credit_limit and not roles & Role.CORE_ENTERPRISE:
        raise refusal(
            "MemberRegistryCreditLimitNeedsCoreEnterprise",
        )
    custodial = body.address is None
    account: LocalAccount | None = None
    if ctx.idem is not None:
        prior = by_key(ctx.session, me.address, ctx.idem.key)
        if prior is not None:
            req = replay(ctx.rt, ctx.session, prior, ctx.idem, ctx.wait)
            address = str(req.params.get("account", ""))
            return MemberCreated(
                address=address, custodial=ctx.rt.has_key(address), transaction=respond(ctx.rt, req)
            )
    if custodial:
        account = Account.create()
        address = account.address
    else:
        assert body.address is not None
        address = body.address
    if member_row(ctx.mirror, ctx.rt, address) is not None:
        raise refusal("MemberRegistryAlreadyMember", account=address)
    params: dict[str, Any] = {
        "account": address,
        "roles": roles,
        "entity_id": "0x" + entity_id(body.legal_id).hex(),
        "credit_limit": body.credit_limit,
    }
    if account is not None:
        ctx.rt.store_key(account)
        if ctx.rt.conn.profile != "rpc":
            ctx.rt.conn.fund(account.address)
    if body.profile is not None:
        directory.record(ctx.session, address, body.profile, credit_code=body.legal_id)
    req = submit(
        ctx=ctx,
        member=me,
        action="member.add",
        params=params,
    )
    code = None
    if custodial:
        code = activation.issue(
            session=ctx.session,
            address=address,
            issued_by=me.address,
            hours=ctx.rt.settings.activation_hours,
        )
    return MemberCreated(
        address=address, custodial=custodial, activation=code, transaction=respond(ctx.rt, req)
    )


def reissue_activation(
    *, rt: Runtime, session: Session, mirror: Session, me: Principal, address: str
) -> ActivationOut:
    """A new activation code for a custodial member that has not activated, or lost its key;
    its earlier unused codes stop working, and activating this one revokes the keys they gave."""
    me.require(Permission.OPERATE)
    _member(mirror, rt, address)
    if not rt.has_key(address):
        raise Conflict(
            f"{to_checksum_address(address)} holds its own key and logs in by signing: it has "
            "no activation code",
            code="NotCustodial",
            details={"account": to_checksum_address(address)},
        )
    return activation.issue(
        session=session, address=address, issued_by=me.address, hours=rt.settings.activation_hours
    )


def _member(mirror: Session, rt: Runtime, address: str) -> Member:
    row = member_row(mirror, rt, address)
    if row is None:
        raise NotFound(f"no member {address}")
    return row


def set_roles(
    *,
    ctx: WriteContext,
    me: Principal,
    address: str,
    roles: list[str],
) -> TxRequest:
    row = _member(ctx.mirror, ctx.rt, address)
    value = roles_from_names(roles)
    if row.credit_limit and not value & Role.CORE_ENTERPRISE:
        raise refusal(
            "MemberRegistryCreditLimitNeedsCoreEnterprise",
            account=address,
        )
    return submit(
        ctx=ctx,
        member=me,
        action="member.roles",
        params={"account": to_checksum_address(address), "roles": value},
    )


def set_status(
    *,
    ctx: WriteContext,
    me: Principal,
    address: str,
    status: str,
) -> TxRequest:
    row = _member(ctx.mirror, ctx.rt, address)
    target = MemberStatus.ACTIVE if status == "active" else MemberStatus.SUSPENDED
    if row.status == target:
        raise refusal("MemberRegistryStatusUnchanged", account=address, status=int(target))
    action = "member.reactivate" if target == MemberStatus.ACTIVE else "member.suspend"
    return submit(
        ctx=ctx,
        member=me,
        action=action,
        params={"account": to_checksum_address(address)},
    )


def set_credit_limit(
    *,
    ctx: WriteContext,
    me: Principal,
    address: str,
    credit_limit: int,
) -> TxRequestOut:
    """The limit is the operator's to cut, even below what is already used (no new payable
    then until repayments bring usage under it): the answer and an alert say so."""
    row = _member(ctx.mirror, ctx.rt, address)
    if not row.roles & Role.CORE_ENTERPRISE:
        raise refusal(
            "MemberRegistryCreditLimitNeedsCoreEnterprise",
            account=address,
        )
    req = submit(
        ctx=ctx,
        member=me,
        action="member.credit_limit",
        params={"account": to_checksum_address(address), "credit_limit": credit_limit},
    )
    out = respond(ctx.rt, req)
    used = int(row.credit_used)
    if credit_limit < used:
        shown = to_checksum_address(address)
        details = {
            "account": shown,
            "credit_limit": credit_limit,
            "credit_used": used,
            "tx_request_id": req.id,
        }
        message = (
            f"the credit limit of {shown} is cut to {credit_limit}, below the {used} it already "
            "uses: it can confirm no new payable until repayments bring its usage under the limit"
        )
        ctx.session.add(Alert(kind="credit_limit_below_usage", message=message, details=details))
        ctx.session.commit()
        out.warnings.append(
            WriteWarning(code="CreditLimitBelowUsage", message=message, details=details)
        )
    return out


def cash(
    *,
    ctx: WriteContext,
    me: Principal,
    action: str,
    account: str,
    amount: int,
) -> TxRequest:
    status = ledger_status(ctx.mirror, ctx.rt)
    if status is not None and status.paused:
        raise refusal("MemberRegistryPaused")
    row = member_row(ctx.mirror, ctx.rt, account)
    if row is None:
        raise refusal("MemberRegistryNotMember", account=account)
    if action == "cash.burn":
        bal = ctx.mirror.exec(
            select(CashBalance).where(
                CashBalance.chain_id == ctx.rt.chain_id, CashBalance.address == account.lower()
            )
        ).first()
        balance = int(bal.balance) if bal else 0
        if balance < amount:
            raise refusal(
                "ERC20InsufficientBalance",
                sender=account,
                balance=balance,
                needed=amount,
            )
    elif row.status != MemberStatus.ACTIVE:
        raise refusal("MemberRegistryMemberSuspended", account=account)
    return submit(
        ctx=ctx,
        member=me,
        action=action,
        params={"account": account, "amount": amount},
    )


def close(
    *,
    ctx: WriteContext,
    me: Principal,
    root_id: int,
) -> TxRequest:
    """End an overdue receivable its debtor will not repay in full: no further repayment is
    taken, the rounding remainder in escrow goes to the holder paid last."""
    checks.not_paused(ctx.mirror, ctx.rt)
    root = root_row(ctx.mirror, ctx.rt, root_id)
    if root is None:
        raise NotFound(f"no receivable {root_id}")
    checks.root_status(root, RootStatus.OVERDUE)
    if root.frozen:
        raise refusal("ReceivablesRootFrozen", rootId=root_id)
    frozen = ctx.mirror.exec(
        select(func.count())
        .select_from(Piece)
        .where(
            Piece.chain_id == ctx.rt.chain_id,
            Piece.root_id == root_id,
            col(Piece.frozen).is_(True),
            col(Piece.status).in_([int(PieceStatus.PENDING), int(PieceStatus.ACTIVE)]),
        )
    ).one()
    if frozen:
        raise refusal("ReceivablesPiecesFrozen", rootId=root_id, frozenPieces=int(frozen))
    if root.cursor != 0:
        raise refusal("ReceivablesDistributionPending", rootId=root_id, cursor=int(root.cursor))
    return submit(ctx=ctx, member=me, action="root.close", params={"root_id": root_id})


def pause(
    *,
    ctx: WriteContext,
    me: Principal,
    paused: bool,
) -> TxRequest:
    status = ledger_status(ctx.mirror, ctx.rt)
    if status is not None and status.paused == paused:
        code = "MemberRegistryAlreadyPaused" if paused else "MemberRegistryNotPaused"
        raise refusal(code)
    return submit(
        ctx=ctx,
        member=me,
        action="ledger.pause" if paused else "ledger.unpause",
        params={},
    )


def list_members(*, rt: Runtime, mirror: Session, limit: int, after: str) -> list[MemberOut]:
    """Every member, by address (`after`: a cursor on the address)."""
    rows = mirror.exec(
        select(Member)
        .where(Member.chain_id == rt.chain_id, col(Member.address) > after.lower())
        .order_by(col(Member.address))
        .limit(limit)
    ).all()
    return [member_out(m) for m in rows]


def get_member(*, rt: Runtime, mirror: Session, address: str) -> MemberOut:
    row = member_row(mirror, rt, address)
    if row is None:
        raise NotFound(f"no member {address}")
    return member_out(row)
