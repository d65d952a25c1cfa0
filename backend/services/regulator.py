"""Regulator: freeze and unfreeze receivables and pieces, with a reason."""

from __future__ import annotations

from backend.errors import NotFound, refusal
from backend.models import TxRequest
from backend.services.context import Principal, WriteContext
from backend.services.tx import submit
from backend.services.views import piece_row, root_row
from chain.enums import PieceStatus


def freeze(
    *,
    ctx: WriteContext,
    me: Principal,
    kind: str,
    target: int,
    frozen: bool,
    reason: str,
) -> TxRequest:
    if kind == "root":
        root = root_row(ctx.mirror, ctx.rt, target)
        if root is None:
            raise NotFound(f"no receivable {target}")
        current = root.frozen
        params = {"root_id": target, "reason": reason}
    else:
        piece = piece_row(ctx.mirror, ctx.rt, target)
        if piece is None:
            raise NotFound(f"no piece {target}")
        if piece.status != PieceStatus.ACTIVE:
            raise refusal("ReceivablesPieceNotActive", pieceId=target)
        current = piece.frozen
        params = {"piece_id": target, "reason": reason}
    if current == frozen:
        # the contract's names: ReceivablesRootAlreadyFrozen, ReceivablesPieceNotFrozen, ...
        which, arg = ("Root", "rootId") if kind == "root" else ("Piece", "pieceId")
        code = f"Receivables{which}{'AlreadyFrozen' if frozen else 'NotFrozen'}"
        raise refusal(code, **{arg: target})
    action = f"{kind}.{'freeze' if frozen else 'unfreeze'}"
    return submit(ctx=ctx, member=me, action=action, params=params)
