"""The regulator's reads over the whole ledger: a search by what a person types (a member's
name or address, a receivable's id or invoice number, a piece's id), and what is frozen now,
with who froze it, when and why (from the freeze events)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlmodel import Session, col, or_, select

from backend.errors import Forbidden, InvalidInput
from backend.models import InvoiceDocument, MemberProfile
from backend.runtime import Runtime
from backend.schemas import InvoiceOut, MemberOut, PieceOut, RootOut
from backend.services.blocktimes import BlockClock
from backend.services.context import Principal
from backend.services.supplier import invoice_out
from backend.services.views import member_out, member_row, piece_out, root_out, root_row
from indexer.models import LedgerEvent, Member, Piece, Root

MAX_HITS = 20
MAX_QUERY = 100
MAX_ID = 2**40
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_HEX_PREFIX = re.compile(r"^0x[0-9a-fA-F]{4,39}$")
_ID = re.compile(r"^#?(\d{1,13})$")
FREEZE_EVENTS = ("RootFrozen", "PieceFrozen")


@dataclass
class Found:
    """What a search found, by kind."""

    query: str
    members: list[MemberOut] = field(default_factory=list)
    receivables: list[RootOut] = field(default_factory=list)
    pieces: list[PieceOut] = field(default_factory=list)
    invoices: list[InvoiceOut] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.members) + len(self.receivables) + len(self.pieces) + len(self.invoices)


@dataclass(frozen=True)
class Freeze:
    """The freeze in force on a receivable or a piece: its last freeze event."""

    regulator: str
    reason: str
    block_number: int
    at: int | None  # the block's timestamp; None if the node no longer has the block


@dataclass(frozen=True)
class FrozenItem:
    kind: str  # "receivable" or "piece"
    id: int
    root_id: int
    party: str  # the receivable's supplier, or the piece's holder
    debtor: str | None
    amount: int
    freeze: Freeze | None


def _require_all_seeing(me: Principal) -> None:
    # the API serves these only to regulators: a caller that could see less must not get here
    if not me.sees_all:
        raise Forbidden("searching the whole ledger needs the role REGULATOR or AUDITOR")


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search(*, rt: Runtime, session: Session, mirror: Session, me: Principal, query: str) -> Found:
    """Members by name, credit code or address (or its start), receivables and pieces by id,
    invoices by number (any part of it, any case); at most MAX_HITS of each kind."""
    _require_all_seeing(me)
    q = query.strip()
    if not q:
        raise InvalidInput(
            "type a member's name or address, a receivable's id or invoice number, or a "
            "piece's id to search for",
            code="SearchEmpty",
            details={"fields": [{"field": "q", "msg": "type something to search for"}]},
        )
    if len(q) > MAX_QUERY:
        raise InvalidInput(
            f"a search is at most {MAX_QUERY} characters; this one has {len(q)}",
            code="SearchTooLong",
            details={"fields": [{"field": "q", "msg": f"at most {MAX_QUERY} characters"}]},
        )
    found = Found(query=q)
    addresses: list[str] = []
    if _ADDRESS.fullmatch(q):
        addresses.append(q.lower())
    elif _HEX_PREFIX.fullmatch(q):
        addresses += mirror.exec(
            select(Member.address)
            .where(Member.chain_id == rt.chain_id, col(Member.address).startswith(q.lower()))
            .order_by(col(Member.address))
            .limit(MAX_HITS)
        ).all()
    pattern = _like(q)
    addresses += session.exec(
        select(MemberProfile.address)
        .where(
            or_(
                col(MemberProfile.legal_name).ilike(pattern, escape="\\"),
                col(MemberProfile.short_name).ilike(pattern, escape="\\"),
                MemberProfile.credit_code == q,
            )
        )
        .order_by(col(MemberProfile.legal_name))
        .limit(MAX_HITS)
    ).all()
    for address in dict.fromkeys(addresses):
        row = member_row(mirror, rt, address)
        if row is not None and len(found.members) < MAX_HITS:
            found.members.append(member_out(row))
    as_id = _ID.fullmatch(q)
    if as_id and int(as_id.group(1)) < MAX_ID:
        number = int(as_id.group(1))
        root = root_row(mirror, rt, number)
        if root is not None:
            found.receivables.append(root_out(root))
        piece = mirror.exec(
            select(Piece).where(Piece.chain_id == rt.chain_id, Piece.piece_id == number)
        ).first()
        if piece is not None:
            found.pieces.append(piece_out(piece, root_row(mirror, rt, piece.root_id)))
    docs = session.exec(
        select(InvoiceDocument)
        .where(col(InvoiceDocument.number).ilike(pattern, escape="\\"))
        .order_by(col(InvoiceDocument.id).desc())
        .limit(MAX_HITS)
    ).all()
    for doc in docs:
        owner = root_row(mirror, rt, doc.root_id) if doc.root_id else None
        found.invoices.append(invoice_out(doc, owner))
    return found


def _freezes(rt: Runtime, mirror: Session) -> dict[tuple[str, int], LedgerEvent]:
    """The last freeze event of each receivable ("root", id) and piece ("piece", id)."""
    last: dict[tuple[str, int], LedgerEvent] = {}
    for e in mirror.exec(
        select(LedgerEvent)
        .where(
            LedgerEvent.chain_id == rt.chain_id,
            LedgerEvent.contract == "Receivables",
            col(LedgerEvent.event).in_(FREEZE_EVENTS),
        )
        .order_by(col(LedgerEvent.id))
    ).all():
        if e.event == "RootFrozen":
            last[("root", int(e.args["rootId"]))] = e
        else:
            last[("piece", int(e.args["pieceId"]))] = e
    return last


def _freeze_of(event: LedgerEvent | None, times: dict[str, int]) -> Freeze | None:
    if event is None:
        return None
    return Freeze(
        regulator=str(event.args.get("regulator", "")).lower(),
        reason=str(event.args.get("reason", "")),
        block_number=event.block_number,
        at=times.get(event.block_hash),
    )


def frozen_now(*, rt: Runtime, mirror: Session, me: Principal) -> list[FrozenItem]:
    """Every receivable and piece frozen now, the latest frozen first."""
    _require_all_seeing(me)
    roots = mirror.exec(
        select(Root).where(Root.chain_id == rt.chain_id, col(Root.frozen).is_(True))
    ).all()
    pieces = mirror.exec(
        select(Piece).where(Piece.chain_id == rt.chain_id, col(Piece.frozen).is_(True))
    ).all()
    events = _freezes(rt, mirror)
    wanted = [events[k] for k in [("root", r.root_id) for r in roots] if k in events]
    wanted += [events[k] for k in [("piece", p.piece_id) for p in pieces] if k in events]
    times = BlockClock(rt.conn.w3, rt.chain_id).times(e.block_hash for e in wanted)
    items = [
        FrozenItem(
            kind="receivable",
            id=r.root_id,
            root_id=r.root_id,
            party=r.supplier,
            debtor=r.debtor,
            amount=int(r.face_value),
            freeze=_freeze_of(events.get(("root", r.root_id)), times),
        )
        for r in roots
    ]
    debtors = {r.root_id: r.debtor for r in roots}
    for p in pieces:
        if p.root_id not in debtors:
            owner = root_row(mirror, rt, p.root_id)
            debtors[p.root_id] = owner.debtor if owner else ""
        items.append(
            FrozenItem(
                kind="piece",
                id=p.piece_id,
                root_id=p.root_id,
                party=p.holder,
                debtor=debtors[p.root_id] or None,
                amount=int(p.amount),
                freeze=_freeze_of(events.get(("piece", p.piece_id)), times),
            )
        )
    items.sort(key=lambda i: i.freeze.block_number if i.freeze else -1, reverse=True)
    return items


def freeze_of(*, rt: Runtime, mirror: Session, kind: str, target: int) -> Freeze | None:
    """The freeze in force on receivable ("root") or piece ("piece") `target`, if it is frozen."""
    event = _freezes(rt, mirror).get((kind, target))
    if event is None:
        return None
    times = BlockClock(rt.conn.w3, rt.chain_id).times([event.block_hash])
    return _freeze_of(event, times)


def invoice_of_root(session: Session, root_id: int) -> InvoiceDocument | None:
    return session.exec(select(InvoiceDocument).where(InvoiceDocument.root_id == root_id)).first()
