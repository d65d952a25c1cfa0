"""/v1/approvals: the member's actions waiting for their approvers (maker-checker)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from backend.api.deps import CurrentMember, WriteDep
from backend.api.errors import ERROR_RESPONSES
from backend.api.params import Limit
from backend.models import TxStatus
from backend.schemas import ApprovalIn, PendingOut, RejectionIn
from backend.services import approvals

router = APIRouter(prefix="/v1/approvals", tags=["approvals"], responses=ERROR_RESPONSES)


@router.get("", response_model=list[PendingOut])
def listing(
    member: CurrentMember,
    ctx: WriteDep,
    status: Annotated[TxStatus | None, Query(description="Default: pending_approval.")] = None,
    limit: Limit = 100,
) -> list[PendingOut]:
    """Actions made under this member's policies, with what an approver needs to decide:
    the invoice, the piece, the price, the counterparty (named), the maker, the decisions."""
    return approvals.listing(ctx=ctx, me=member, status=status, limit=limit)


@router.get("/{request_id}", response_model=PendingOut)
def one(request_id: str, member: CurrentMember, ctx: WriteDep) -> PendingOut:
    return approvals.one(ctx=ctx, me=member, request_id=request_id)


@router.post("/{request_id}/approve", response_model=PendingOut)
def approve(request_id: str, body: ApprovalIn, member: CurrentMember, ctx: WriteDep) -> PendingOut:
    """Approve what you saw (`action_hash`, from the listing). The maker cannot (403
    MakerCannotApprove); nor can one without the policy's permission or amount limit; twice is
    refused (409 AlreadyDecided), as is a changed action (409 ActionChanged / ActionTampered)
    or an expired one (409 ApprovalExpired). The last approval needed sends it (with
    ?wait=true, the answer comes once it is mined)."""
    return approvals.approve(
        ctx=ctx, me=member, request_id=request_id, action_hash=body.action_hash
    )


@router.post("/{request_id}/reject", response_model=PendingOut)
def reject(request_id: str, body: RejectionIn, member: CurrentMember, ctx: WriteDep) -> PendingOut:
    """Turn it down with a reason (its maker may withdraw it so): it ends unsent."""
    return approvals.reject(ctx=ctx, me=member, request_id=request_id, reason=body.reason)
