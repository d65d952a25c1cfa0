"""Reading the mirror: lookups, converters to API bodies, and who may see what.

A member sees only what it is party to; anything else is reported as not found, so that the
API never confirms that someone else's receivable exists.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, bindparam, or_
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from backend.errors import NotFound
from backend.models import FinancingOffer, FinancingRequest, FinancingStatus
from backend.runtime import Runtime
from backend.schemas import MemberOut, OfferOut, PieceOut, RootOut
from backend.services.context import Principal
from chain.enums import MemberStatus, OfferStatus, PieceStatus, Role, RootStatus
from indexer.models import Holding, Member, Offer, Piece, Root


def role_names(roles: int) -> list[str]:
    return [r.name for r in Role if r.name and r.name not in ("ALL", "HOLDER") and roles & r]


def roles_from_names(names: Sequence[str]) -> int:
    value = 0
    for n in names:
        value |= int(Role[n])
    return value


# -- lookups -------------------------------------------------------------------------------------


def root_row(mirror: Session, rt: Runtime, root_id: int) -> Root | None:
    return mirror.exec(
        select(Root).where(Root.chain_id == rt.chain_id, Root.root_id == root_id)
    ).first()


def piece_row(mirror: Session, rt: Runtime, piece_id: int) -> Piece | None:
    return mirror.exec(
        select(Piece).where(Piece.chain_id == rt.chain_id, Piece.piece_id == piece_id)
    ).first()


def offer_row(mirror: Session, rt: Runtime, offer_id: int) -> Offer | None:
    return mirror.exec(
        select(Offer).where(Offer.chain_id == rt.chain_id, Offer.offer_id == offer_id)
    ).first()


def member_out(m: Member) -> MemberOut:
    return MemberOut(
        address=m.address,
        roles=role_names(m.roles),
        status=MemberStatus(m.status).name.lower(),
        entity_id=m.entity_id,
        credit_limit=int(m.credit_limit),
        credit_used=int(m.credit_used),
    )


def piece_out(p: Piece, root: Root | None = None) -> PieceOut:
    return PieceOut(
        piece_id=p.piece_id,
        root_id=p.root_id,
        parent_id=p.parent_id or None,
        depth=p.depth,
        holder=p.holder,
        amount=int(p.amount),
        status=PieceStatus(p.status).name.lower(),
        frozen=p.frozen,
        paid_out=int(p.paid_out),
        paid=p.status == PieceStatus.ACTIVE and p.paid_out == p.amount,
        debtor=root.debtor if root else None,
        due_date=root.due_date if root else None,
    )


def root_out(r: Root) -> RootOut:
    return RootOut(
        root_id=r.root_id,
        debtor=r.debtor,
        supplier=r.supplier,
        face_value=int(r.face_value),
        due_date=r.due_date,
        status=RootStatus(r.status).name.lower(),
        frozen=r.frozen,
        repaid=int(r.repaid),
        distributed=int(r.distributed),
        outstanding=int(r.face_value) - int(r.repaid)
        if r.status in (*RootStatus.PAYABLE, RootStatus.SETTLED)
        else 0,
        invoice_hash=r.invoice_hash,
        invoice_key=r.invoice_key,
    )


def answered_requests(session: Session, offer_ids: Iterable[int]) -> dict[int, int]:
    """offer id → the financing request it answers, for those of `offer_ids` that answer one."""
    ids = list(offer_ids)
    if not ids:
        return {}
    rows = session.exec(select(FinancingOffer).where(col(FinancingOffer.offer_id).in_(ids)))
    return {r.offer_id: r.financing_request_id for r in rows}


def offer_out(o: Offer, answers: Mapping[int, int]) -> OfferOut:
    """`answers`: from `answered_requests`."""
    return OfferOut(
        offer_id=o.offer_id,
        piece_id=o.piece_id,
        financier=o.financier,
        price=int(o.price),
        expiry=o.expiry,
        status=OfferStatus(o.status).name.lower(),
        seller=o.seller,
        financing_request_id=answers.get(o.offer_id),
    )


# -- visibility ----------------------------------------------------------------------------------


def _held_by(rt: Runtime, address: str) -> Any:
    return select(Holding.piece_id).where(
        Holding.chain_id == rt.chain_id, Holding.holder == address
    )


def open_financing_pieces(session: Session, mirror: Session, rt: Runtime) -> set[int]:
    """Pieces with an open financing request whose requester still holds them, as the mirror
    shows it: a piece that moved on chain, through the API or not, is offered to no one."""
    wanted = session.exec(
        select(FinancingRequest.piece_id, FinancingRequest.requester).where(
            FinancingRequest.status == FinancingStatus.OPEN
        )
    ).all()
    if not wanted:
        return set()
    held = set(
        mirror.exec(
            select(Piece.piece_id, Piece.holder).where(
                Piece.chain_id == rt.chain_id,
                col(Piece.piece_id).in_({p for p, _ in wanted}),
                Piece.status == int(PieceStatus.ACTIVE),
            )
        ).all()
    )
    return {p for p, requester in wanted if (p, requester) in held}


def visible_pieces_clause(
    rt: Runtime, me: Principal, *, financing_pieces: set[int]
) -> ColumnElement[bool] | None:
    """A WHERE clause on `piece` for what `me` may see (None: everything)."""
    if me.sees_all:
        return None
    a = me.address
    terms: list[ColumnElement[bool]] = []
    if me.has(Role.CORE_ENTERPRISE):
        debtor_roots = select(Root.root_id).where(Root.chain_id == rt.chain_id, Root.debtor == a)
        terms.append(col(Piece.root_id).in_(debtor_roots))
    if me.has(Role.HOLDER):
        held = _held_by(rt, a)
        own_roots = select(Root.root_id).where(Root.chain_id == rt.chain_id, Root.supplier == a)
        # the children of pieces it split itself (a split piece keeps its last holder), not
        # those a later holder made of a piece it sold
        parent = aliased(Piece)
        split_by_me = select(parent.piece_id).where(
            parent.chain_id == rt.chain_id,
            parent.holder == a,
            parent.status == int(PieceStatus.SPLIT),
        )
        terms += [
            col(Piece.holder) == a,
            col(Piece.piece_id).in_(held),
            col(Piece.parent_id).in_(split_by_me),
            (col(Piece.piece_id).in_(own_roots)),
        ]
    if me.has(Role.FINANCIER):
        offered = select(Offer.piece_id).where(Offer.chain_id == rt.chain_id, Offer.financier == a)
        terms.append(col(Piece.piece_id).in_(offered))
        if financing_pieces:
            terms.append(col(Piece.piece_id).in_(financing_pieces))
    if not terms:
        return col(Piece.piece_id) == -1
    return or_(*terms)


def visible_piece(
    session: Session, mirror: Session, rt: Runtime, me: Principal, piece_id: int
) -> Piece:
    """The piece if `me` may see it, else NotFound."""
    clause = visible_pieces_clause(
        rt, me, financing_pieces=open_financing_pieces(session, mirror, rt)
    )
    stmt = select(Piece).where(Piece.chain_id == rt.chain_id, Piece.piece_id == piece_id)
    if clause is not None:
        stmt = stmt.where(clause)
    piece = mirror.exec(stmt).first()
    if piece is None:
        raise NotFound(f"no piece {piece_id}")
    return piece


def visible_roots_clause(rt: Runtime, me: Principal) -> ColumnElement[bool] | None:
    if me.sees_all:
        return None
    a = me.address
    terms: list[ColumnElement[bool]] = []
    if me.has(Role.CORE_ENTERPRISE):
        terms.append(col(Root.debtor) == a)
    if me.has(Role.HOLDER):
        held_roots = select(Piece.root_id).where(
            Piece.chain_id == rt.chain_id, col(Piece.piece_id).in_(_held_by(rt, a))
        )
        terms += [col(Root.supplier) == a, col(Root.root_id).in_(held_roots)]
    if not terms:
        return col(Root.root_id) == -1
    return or_(*terms)


def visible_root(mirror: Session, rt: Runtime, me: Principal, root_id: int) -> Root:
    stmt = select(Root).where(Root.chain_id == rt.chain_id, Root.root_id == root_id)
    clause = visible_roots_clause(rt, me)
    if clause is not None:
        stmt = stmt.where(clause)
    root = mirror.exec(stmt).first()
    if root is None:
        raise NotFound(f"no receivable {root_id}")
    return root


def visible_offer(mirror: Session, rt: Runtime, me: Principal, offer_id: int) -> Offer:
    """Offers are seen by their financier, the piece's holder, and auditors/regulators."""
    offer = offer_row(mirror, rt, offer_id)
    if offer is None:
        raise NotFound(f"no offer {offer_id}")
    if me.sees_all or offer.financier == me.address or offer.seller == me.address:
        return offer
    piece = piece_row(mirror, rt, offer.piece_id)
    if piece is not None and piece.holder == me.address:
        return offer
    raise NotFound(f"no offer {offer_id}")


_MEMBER_ROW = select(Member).where(
    Member.chain_id == bindparam("chain_id"), Member.address == bindparam("address")
)


def member_row(mirror: Session, rt: Runtime, address: str) -> Member | None:
    return mirror.exec(
        _MEMBER_ROW, params={"chain_id": rt.chain_id, "address": address.lower()}
    ).first()
