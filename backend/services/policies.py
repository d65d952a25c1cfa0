"""A member's approval policies: for each action, how many approvers besides the maker, above
which amount, holding which permission. A member gets the platform's defaults
(`backend.permissions.DEFAULT_POLICIES`) with its first staff user; its administrators change
them. A member without staff users has none: its own systems approve."""

from __future__ import annotations

from sqlalchemy import bindparam
from sqlmodel import Session, select

from backend.errors import InvalidInput
from backend.models import ApprovalPolicy, utcnow
from backend.permissions import (
    APPROVABLE,
    DEFAULT_POLICIES,
    Permission,
    Policy,
    default_policy,
    permission_for,
)
from backend.schemas import PolicyIn, PolicyOut
from backend.services import action_log
from backend.services.context import Principal

_POLICY = select(ApprovalPolicy).where(
    ApprovalPolicy.member == bindparam("member"), ApprovalPolicy.action == bindparam("action")
)


def _policy(row: ApprovalPolicy) -> Policy:
    return Policy(row.action, row.approvers, row.above_amount, Permission(row.approver_permission))


def effective(session: Session, member: str, action: str) -> Policy | None:
    """The member's policy for `action` (one indexed read: every custodial write asks)."""
    row = session.exec(_POLICY, params={"member": member, "action": action}).first()
    return None if row is None else _policy(row)


def seed_defaults(session: Session, member: str) -> None:
    """The platform's defaults, given to a member with its first staff user (the caller
    commits)."""
    for p in DEFAULT_POLICIES.values():
        session.add(
            ApprovalPolicy(
                member=member,
                action=p.action,
                approvers=p.approvers,
                above_amount=p.above_amount,
                approver_permission=str(p.approver_permission),
            )
        )


def _out(policy: Policy) -> PolicyOut:
    default = DEFAULT_POLICIES.get(policy.action) or default_policy(policy.action)
    return PolicyOut(
        action=policy.action,
        approvers=policy.approvers,
        above_amount=policy.above_amount,
        approver_permission=str(policy.approver_permission),
        default=policy == default,
    )


def list_policies(*, session: Session, me: Principal) -> list[PolicyOut]:
    """Every action a policy may cover, with the member's rule (none: 0 approvers)."""
    rows = {
        r.action: _policy(r)
        for r in session.exec(select(ApprovalPolicy).where(ApprovalPolicy.member == me.address))
    }
    return [
        _out(rows.get(action) or Policy(action, 0, 0, permission_for(action)))
        for action in APPROVABLE
    ]


def set_policy(*, session: Session, me: Principal, action: str, body: PolicyIn) -> PolicyOut:
    me.require(Permission.ADMINISTER)
    if action not in APPROVABLE:
        raise InvalidInput(
            f"{action!r} cannot be put under an approval policy",
            code="NotApprovable",
            details={"approvable": list(APPROVABLE)},
        )
    permission = body.approver_permission or permission_for(action)
    row = session.get(ApprovalPolicy, (me.address, action)) or ApprovalPolicy(
        member=me.address, action=action, approvers=0, approver_permission=str(permission)
    )
    before = {"approvers": row.approvers, "above_amount": row.above_amount}
    row.approvers, row.above_amount = body.approvers, body.above_amount
    row.approver_permission, row.updated_by, row.updated_at = str(permission), me.login, utcnow()
    session.add(row)
    action_log.record(
        session,
        member=me.address,
        user=me.login,
        action="policy.set",
        result=action_log.OK,
        source_ip=me.source_ip,
        target=action,
        details={
            "approvers": body.approvers,
            "above_amount": body.above_amount,
            "approver_permission": str(permission),
            "was_approvers": before["approvers"],
            "was_above_amount": before["above_amount"],
        },
    )
    session.commit()
    return _out(_policy(row))
