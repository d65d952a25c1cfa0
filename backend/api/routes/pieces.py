"""/v1 pieces: listing, splitting, passing on and claiming; a holder's holdings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from backend.api.deps import (
    CurrentMember,
    Holder,
    MirrorDep,
    RuntimeDep,
    SessionDep,
    WriteDep,
    may_do,
)
from backend.api.errors import ERROR_RESPONSES
from backend.api.params import Accepted, After, Id40, Limit, RootQuery, accepted
from backend.schemas import HoldingOut, PieceOut, SplitIn, TransferIn, TxRequestOut
from backend.services import financier, supplier

router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)
ACCEPTED = status.HTTP_202_ACCEPTED


@router.get("/pieces", response_model=list[PieceOut], tags=["supplier"])
def list_pieces(
    me: CurrentMember,
    rt: RuntimeDep,
    session: SessionDep,
    mirror: MirrorDep,
    held: Annotated[bool, Query(description="Only pieces this member holds now.")] = False,
    root_id: RootQuery = None,
    limit: Limit = 100,
    after: After = 0,
) -> list[PieceOut]:
    """Pieces this member may see: held, passed on, of its invoices or payables."""
    return supplier.list_pieces(
        rt=rt,
        session=session,
        mirror=mirror,
        me=me,
        held=held,
        root_id=root_id,
        limit=limit,
        after=after,
    )


@router.get("/pieces/{piece_id}", response_model=PieceOut, tags=["supplier"])
def get_piece(
    piece_id: Id40, me: CurrentMember, rt: RuntimeDep, session: SessionDep, mirror: MirrorDep
) -> PieceOut:
    return supplier.get_piece(rt=rt, session=session, mirror=mirror, me=me, piece_id=piece_id)


@router.post(
    "/pieces/{piece_id}/split",
    response_model=TxRequestOut,
    status_code=ACCEPTED,
    tags=["supplier"],
    dependencies=[may_do("piece.split")],
)
def split(
    piece_id: Id40,
    body: SplitIn,
    me: Holder,
    ctx: WriteDep,
) -> Accepted:
    """Split a held piece among recipients (amounts summing to the piece)."""
    return accepted(
        ctx.rt,
        supplier.split(
            ctx=ctx,
            me=me,
            piece_id=piece_id,
            body=body,
        ),
    )


@router.post(
    "/pieces/{piece_id}/transfer",
    response_model=TxRequestOut,
    status_code=ACCEPTED,
    tags=["supplier"],
    dependencies=[may_do("piece.transfer")],
)
def transfer(
    piece_id: Id40,
    body: TransferIn,
    me: Holder,
    ctx: WriteDep,
) -> Accepted:
    """Pass a whole piece on to another supplier or financier."""
    return accepted(
        ctx.rt,
        supplier.transfer(
            ctx=ctx,
            me=me,
            piece_id=piece_id,
            to=body.to,
        ),
    )


@router.post(
    "/pieces/{piece_id}/claim",
    response_model=TxRequestOut,
    status_code=ACCEPTED,
    tags=["supplier"],
    dependencies=[may_do("piece.claim")],
)
def claim(
    piece_id: Id40,
    me: Holder,
    ctx: WriteDep,
) -> Accepted:
    """Pull what a held piece is owed now (the keeper also pushes it)."""
    return accepted(ctx.rt, supplier.claim(ctx=ctx, me=me, piece_id=piece_id))


@router.get("/holdings", response_model=list[HoldingOut], tags=["financier"])
def holdings(me: Holder, rt: RuntimeDep, mirror: MirrorDep) -> list[HoldingOut]:
    """Pieces held now, with what each is still to be paid and when (expected cash flows)."""
    return financier.holdings(rt=rt, mirror=mirror, me=me)
