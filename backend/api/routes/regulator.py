"""/v1/regulator: freeze and unfreeze receivables and pieces."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, status

from backend.api.deps import Regulator, WriteDep, may_do
from backend.api.errors import ERROR_RESPONSES
from backend.api.params import Id40
from backend.schemas import ReasonIn, TxRequestOut
from backend.services import regulator as svc
from backend.services.tx import respond

router = APIRouter(prefix="/v1/regulator", tags=["regulator"], responses=ERROR_RESPONSES)


@router.post(
    "/{kind}/{target}/{action}",
    response_model=TxRequestOut,
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[may_do("root.freeze")],
)
def freeze(
    kind: Literal["roots", "pieces"],
    target: Id40,
    action: Literal["freeze", "unfreeze"],
    body: ReasonIn,
    me: Regulator,
    ctx: WriteDep,
) -> TxRequestOut:
    """Freeze or unfreeze a whole receivable (`roots`) or one piece (`pieces`), with a reason."""
    return respond(
        ctx.rt,
        svc.freeze(
            ctx=ctx,
            me=me,
            kind=kind.removesuffix("s"),
            target=target,
            frozen=action == "freeze",
            reason=body.reason,
        ),
    )
