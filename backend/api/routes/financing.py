"""/v1 financing requests: a holder asks for offers on a piece; financiers see the open ones."""

from __future__ import annotations

from fastapi import APIRouter, status

from backend.api.deps import Holder, MirrorDep, RuntimeDep, SessionDep
from backend.api.errors import ERROR_RESPONSES
from backend.api.params import After, Limit, RowId
from backend.schemas import FinancingIn, FinancingOut
from backend.services import financier, supplier

router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)
ACCEPTED = status.HTTP_202_ACCEPTED


@router.post("/financing-requests", response_model=FinancingOut, status_code=201, tags=["supplier"])
def request_financing(
    body: FinancingIn, me: Holder, rt: RuntimeDep, session: SessionDep, mirror: MirrorDep
) -> FinancingOut:
    """Ask financiers for offers on a held piece (amount wanted, maximum annual rate)."""
    fr = supplier.request_financing(rt=rt, session=session, mirror=mirror, me=me, body=body)
    return financier.financing_out(fr, session, mirror, rt, me)


@router.post(
    "/financing-requests/{request_id}/cancel", response_model=FinancingOut, tags=["supplier"]
)
def cancel_financing(
    request_id: RowId, me: Holder, rt: RuntimeDep, session: SessionDep, mirror: MirrorDep
) -> FinancingOut:
    fr = supplier.cancel_financing(session=session, me=me, request_id=request_id)
    return financier.financing_out(fr, session, mirror, rt, me)


@router.get("/financing-requests", response_model=list[FinancingOut], tags=["financier"])
def list_financing(
    me: Holder,
    rt: RuntimeDep,
    session: SessionDep,
    mirror: MirrorDep,
    limit: Limit = 100,
    after: After = 0,
) -> list[FinancingOut]:
    """Financiers: every open request (and their own); suppliers: their own."""
    return financier.list_financing(
        rt=rt, session=session, mirror=mirror, me=me, limit=limit, after=after
    )
