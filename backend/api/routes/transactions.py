"""/v1/transactions: the state of a write, and the signature of a member that signs its own."""

from __future__ import annotations

from fastapi import APIRouter, status

from backend.api.deps import Authenticated, RuntimeDep, SessionDep, WaitDep
from backend.api.errors import ERROR_RESPONSES
from backend.errors import NotFound
from backend.schemas import SignedTxIn, TxRequestOut
from backend.services.tx import finish_wait, load, respond, submit_signature, to_public

router = APIRouter(prefix="/v1", tags=["transactions"], responses=ERROR_RESPONSES)


@router.get("/transactions/{request_id}", response_model=TxRequestOut)
def get_transaction(
    request_id: str, me: Authenticated, rt: RuntimeDep, session: SessionDep, wait: WaitDep
) -> TxRequestOut:
    """awaiting_signature / queued / signed / sent / mined / failed / expired, the tx hash, and
    on a refusal the contract's error name; `?wait=true` returns once mined and visible in the
    mirror (or failed, expired, or awaiting the member's signature). A suspended member
    follows its own requests too (a repayment it may still make)."""
    req = load(rt, session, request_id)
    if req.member != me.address and not me.sees_all:
        raise NotFound(f"no transaction request {request_id}")
    return to_public(rt, finish_wait(rt, session, request_id, wait))


@router.post(
    "/transactions/{request_id}/signature",
    response_model=TxRequestOut,
    status_code=status.HTTP_202_ACCEPTED,
)
def sign_transaction(
    request_id: str,
    body: SignedTxIn,
    me: Authenticated,
    rt: RuntimeDep,
    session: SessionDep,
    wait: WaitDep,
) -> TxRequestOut:
    """A member holding its own key posts its request's `unsigned_tx`, signed. It must be signed
    by the member and carry the prepared to/data/value/chainId (422 SignedTransactionMismatch)
    and the signer's next nonce (409 NonceNotNext); then it is sent like any other write.
    Posting the same bytes again is harmless. A suspended member may sign only what it may
    still do (a repayment)."""
    return respond(
        rt,
        submit_signature(
            rt=rt,
            session=session,
            member=me,
            request_id=request_id,
            raw_tx=body.raw_transaction,
            wait=wait,
        ),
    )
