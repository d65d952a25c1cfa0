"""Regulator: freeze and unfreeze receivables and pieces, with a reason."""

from __future__ import annotations

from sqlmodel import Session

from backend.deps import Idem, Principal
from backend.errors import NotFound, refusal
from backend.models import TxRequest
from backend.runtime import Runtime
from backend.services.tx import submit
from backend.services.views import piece_row, root_row
from chain.enums import PieceStatus


def freeze(
    *,
    rt: Runtime,
    session: Session,
    mirror: Session,
    me: Principal,
    kind: str,
    target: int,
    frozen: bool,
    reason: str,
    idem: Idem | None,
    wait: bool,
) -> TxRequest:
    if kind == "root":
        root = root_row(mirror, rt, target)
        if root is None:
            raise NotFound(f"no receivable {target}")
        current = root.frozen
        params = {"root_id": target, "reason": reason}
    else:
        piece = piece_row(mirror, rt, target)
        if piece is None:
            raise NotFound(f"no piece {target}")
        if piece.status != PieceStatus.ACTIVE:
            raise refusal("ReceivablesPieceNotActive", "piece is not active", pieceId=target)
        current = piece.frozen
        params = {"piece_id": target, "reason": reason}
    if current == frozen:
        code = "ReceivablesAlreadyFrozen" if frozen else "ReceivablesNotFrozen"
        raise refusal(code, "already frozen" if frozen else "not frozen", id=target)
    action = f"{kind}.{'freeze' if frozen else 'unfreeze'}"
    return submit(
        rt=rt, session=session, member=me, action=action, params=params, idem=idem, wait=wait
    )
