"""/v1/transactions: the state of a write."""

from __future__ import annotations

from fastapi import APIRouter

from backend.deps import CurrentMember, RuntimeDep, SessionDep, WaitDep
from backend.errors import ERROR_RESPONSES, NotFound
from backend.schemas import TxRequestOut
from backend.services.tx import finish_wait, load, to_public

router = APIRouter(prefix="/v1", tags=["transactions"], responses=ERROR_RESPONSES)


@router.get("/transactions/{request_id}", response_model=TxRequestOut)
def get_transaction(
    request_id: str, me: CurrentMember, rt: RuntimeDep, session: SessionDep, wait: WaitDep
) -> TxRequestOut:
    """queued / signed / sent / mined / failed, the tx hash, and on a refusal the contract's
    error name; `?wait=true` returns once mined and visible in the mirror (or failed)."""
    req = load(session, request_id)
    if req.member != me.address and not me.sees_all:
        raise NotFound(f"no transaction request {request_id}")
    return to_public(rt, finish_wait(rt, session, request_id, wait))
