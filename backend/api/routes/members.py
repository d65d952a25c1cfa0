"""/v1 members: onboarding, roles, status and credit limits (the operator), the member list
(auditors)."""

from __future__ import annotations

from fastapi import APIRouter, status

from backend.api.deps import (
    Auditor,
    MirrorDep,
    Operator,
    RuntimeDep,
    ServiceReplayWriteDep,
    SessionDep,
    WriteDep,
    may_do,
)
from backend.api.errors import ERROR_RESPONSES
from backend.api.params import Accepted, AddressPath, Limit, accepted
from backend.schemas import (
    ActivationOut,
    CreditLimitIn,
    MemberCreated,
    MemberIn,
    MemberOut,
    RolesIn,
    StatusIn,
    TxRequestOut,
)
from backend.services import operator

router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)
ACCEPTED = status.HTTP_202_ACCEPTED


@router.post(
    "/operator/members",
    response_model=MemberCreated,
    status_code=ACCEPTED,
    tags=["operator"],
    dependencies=[may_do("member.add")],
)
def onboard(
    body: MemberIn,
    me: Operator,
    ctx: ServiceReplayWriteDep,
) -> Accepted:
    """Admit a member; without `address` the server generates and holds its key (custodial)
    and returns a one-time activation code for it, once: the member exchanges it at
    /v1/auth/activate for its own API key, which the operator never sees."""
    return Accepted(operator.onboard(ctx=ctx, me=me, body=body))


@router.post(
    "/operator/members/{address}/activation",
    response_model=ActivationOut,
    status_code=status.HTTP_201_CREATED,
    tags=["operator"],
)
def reissue_activation(
    address: AddressPath, me: Operator, rt: RuntimeDep, session: SessionDep, mirror: MirrorDep
) -> ActivationOut:
    """A new activation code for a custodial member that has not activated or lost its key:
    its earlier codes stop working, and the member's activation of this one revokes the keys
    they gave (409 NotCustodial for a member holding its own key)."""
    return operator.reissue_activation(
        rt=rt, session=session, mirror=mirror, me=me, address=address
    )


@router.put(
    "/operator/members/{address}/roles",
    response_model=TxRequestOut,
    status_code=ACCEPTED,
    tags=["operator"],
    dependencies=[may_do("member.roles")],
)
def set_roles(
    address: AddressPath,
    body: RolesIn,
    me: Operator,
    ctx: WriteDep,
) -> Accepted:
    return accepted(
        ctx.rt,
        operator.set_roles(
            ctx=ctx,
            me=me,
            address=address,
            roles=list(body.roles),
        ),
    )


@router.put(
    "/operator/members/{address}/status",
    response_model=TxRequestOut,
    status_code=ACCEPTED,
    tags=["operator"],
    dependencies=[may_do("member.suspend")],
)
def set_status(
    address: AddressPath,
    body: StatusIn,
    me: Operator,
    ctx: WriteDep,
) -> Accepted:
    """Suspend or reactivate: a suspended member is refused by the API and the chain at once."""
    return accepted(
        ctx.rt,
        operator.set_status(
            ctx=ctx,
            me=me,
            address=address,
            status=body.status,
        ),
    )


@router.put(
    "/operator/members/{address}/credit-limit",
    response_model=TxRequestOut,
    status_code=ACCEPTED,
    tags=["operator"],
    dependencies=[may_do("member.credit_limit")],
)
def set_credit_limit(
    address: AddressPath,
    body: CreditLimitIn,
    me: Operator,
    ctx: WriteDep,
) -> Accepted:
    """Set a core enterprise's credit limit; one below its usage is accepted with a warning."""
    return Accepted(
        operator.set_credit_limit(
            ctx=ctx,
            me=me,
            address=address,
            credit_limit=body.credit_limit,
        )
    )


@router.get("/members", response_model=list[MemberOut], tags=["operator", "audit"])
def list_members(
    me: Auditor, rt: RuntimeDep, mirror: MirrorDep, limit: Limit = 100, after: str = ""
) -> list[MemberOut]:
    """Every member (auditors, regulators)."""
    return operator.list_members(rt=rt, mirror=mirror, limit=limit, after=after)


@router.get("/operator/members", response_model=list[MemberOut], tags=["operator"])
def operator_members(
    me: Operator, rt: RuntimeDep, mirror: MirrorDep, limit: Limit = 100, after: str = ""
) -> list[MemberOut]:
    """Every member, for the operator."""
    return operator.list_members(rt=rt, mirror=mirror, limit=limit, after=after)


@router.get("/operator/members/{address}", response_model=MemberOut, tags=["operator"])
def get_member(address: AddressPath, me: Operator, rt: RuntimeDep, mirror: MirrorDep) -> MemberOut:
    return operator.get_member(rt=rt, mirror=mirror, address=address)
