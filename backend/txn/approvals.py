"""The pipeline's own check of maker-checker: a request made under an approval policy is sent
only while enough distinct approvers' approvals cover the hash of exactly what is about to be
sent (so a row changed after its approval is refused, not sent)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import distinct, func, select

from backend.errors import Conflict
from backend.models import ApprovalDecision, TxApproval
from backend.runtime import Runtime
from backend.txn.actions import action_digest

_APPROVALS = TxApproval.__table__  # type: ignore[attr-defined]


def require_covered(
    rt: Runtime,
    *,
    request_id: str,
    member: str,
    signer: str,
    action: str,
    params: dict[str, Any],
    required: int,
) -> None:
    """Refuse (`ApprovalMissing`, the request fails unsent) unless `required` approvals cover
    the request as it is now."""
    if required == 0:
        return
    digest = action_digest(member, signer, action, params)
    with rt.engine.connect() as conn:
        covering = conn.execute(
            select(func.count(distinct(_APPROVALS.c.user_id))).where(
                _APPROVALS.c.request_id == request_id,
                _APPROVALS.c.decision == ApprovalDecision.APPROVED,
                _APPROVALS.c.action_hash == digest,
            )
        ).scalar_one()
    if covering < required:
        raise Conflict(
            f"{covering} of the {required} approvals this request needs cover what would be "
            "sent: it was changed after approval, or never approved; nothing was sent",
            code="ApprovalMissing",
            details={"transaction": request_id, "approvals": covering, "required": required},
        )
