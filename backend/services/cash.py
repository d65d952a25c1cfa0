"""A member's settlement cash from the mirror: every movement with its reason in words, and its
position (balance, cash in escrow on its behalf) at any block.

A movement is one SettlementToken `Transfer` touching the member. Its reason is the next
Receivables event of the same transaction that moves cash (`REASONS`): the contract emits each
of those right after the token transfer it causes (`postOffer`: Transfer into escrow, then
`OfferPosted`; `acceptOffer`: Transfer to the seller, the piece's TransferSingle, then
`OfferAccepted`; `_payPiece`: Transfer to the holder, then `PiecePaid`; ...), so a batch of
payouts in one `distribute` pairs each Transfer with its own `PiecePaid`. A Transfer followed
by none is a mint (from zero), a burn (to zero) or a transfer between members.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from backend.runtime import Runtime
from backend.services.blocktimes import BlockClock
from chain.enums import OfferStatus
from indexer.models import (
    CashBalance,
    LedgerEvent,
    LedgerEventParty,
    Offer,
    PiecePayment,
    Repayment,
    Root,
)

ZERO = "0x" + "00" * 20
TOKEN = "SettlementToken"
RECEIVABLES = "Receivables"
#: The Receivables events that explain the cash Transfer just before them in a transaction.
REASONS = frozenset(
    {"OfferPosted", "OfferAccepted", "OfferCancelled", "Repaid", "PiecePaid", "ReceivableClosed"}
)
#: Receivables events read beside the reasons: a payout in a distribution pass, not a claim.
CONTEXT = REASONS | {"Distributed"}
#: tx hashes per IN list
CHUNK = 1_000

#: Every kind of movement, in words (the statement's reason column is built from these).
KINDS = (
    "minted",
    "burned",
    "transfer",
    "offer_escrowed",
    "purchase",
    "offer_refunded",
    "sale",
    "repayment",
    "payout",
    "claim",
    "remainder",
)


@dataclass(frozen=True)
class CashLedger:
    """What reading a chain's cash needs: its id, the token and escrow addresses, its clock."""

    chain_id: int
    token: str
    escrow: str
    clock: BlockClock

    @classmethod
    def of(cls, rt: Runtime) -> CashLedger:
        d = rt.deployment
        return cls(
            chain_id=rt.chain_id,
            token=d.token.address.lower(),
            escrow=d.receivables.address.lower(),
            clock=BlockClock(rt.conn.w3, rt.chain_id),
        )


@dataclass(frozen=True)
class Transfer:
    block_number: int
    log_index: int
    block_hash: str
    tx_hash: str
    sender: str
    recipient: str
    value: int


@dataclass
class Movement:
    """One movement of a member's cash: `amount` is signed (+ in, - out)."""

    block_number: int
    log_index: int
    tx_hash: str
    block_hash: str
    amount: int
    kind: str
    reason: str
    counterparty: str | None
    root_id: int | None = None
    piece_id: int | None = None
    offer_id: int | None = None
    balance: int = 0
    time: int | None = None


@dataclass
class Explained:
    kind: str
    counterparty: str | None
    root_id: int | None = None
    piece_id: int | None = None
    offer_id: int | None = None
    expired: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


# -- reading the mirror --------------------------------------------------------------------------


def transfers(
    *, mirror: Session, ledger: CashLedger, address: str, to_block: int
) -> list[Transfer]:
    """The member's cash Transfers up to `to_block`, in chain order (through the party table:
    one index range over the member's events)."""
    ep = LedgerEventParty
    ev = LedgerEvent
    stmt = (
        sa_select(
            col(ev.block_number),
            col(ev.log_index),
            col(ev.block_hash),
            col(ev.tx_hash),
            col(ev.args),
        )
        .join(ep, and_(col(ep.chain_id) == ev.chain_id, col(ep.event_id) == ev.id))
        .where(
            col(ep.chain_id) == ledger.chain_id,
            col(ep.party) == address,
            col(ep.block_number) <= to_block,
            col(ev.contract) == TOKEN,
            col(ev.event) == "Transfer",
        )
        .order_by(col(ev.block_number), col(ev.log_index))
    )
    return [
        Transfer(b, li, bh, tx, a["from"], a["to"], int(a["value"]))
        for b, li, bh, tx, a in mirror.execute(stmt)
    ]


def tx_events(
    *, mirror: Session, ledger: CashLedger, tx_hashes: Iterable[str]
) -> dict[str, list[tuple[int, str, dict[str, Any]]]]:
    """The Receivables events that explain cash, per transaction, by log index."""
    out: dict[str, list[tuple[int, str, dict[str, Any]]]] = {}
    hashes = sorted(set(tx_hashes))
    ev = LedgerEvent
    for i in range(0, len(hashes), CHUNK):
        stmt = select(ev.tx_hash, ev.log_index, ev.event, ev.args).where(
            ev.chain_id == ledger.chain_id,
            col(ev.tx_hash).in_(hashes[i : i + CHUNK]),
            ev.contract == RECEIVABLES,
            col(ev.event).in_(CONTEXT),
        )
        for tx, li, name, args in mirror.exec(stmt):
            out.setdefault(tx, []).append((li, name, dict(args)))
    for rows in out.values():
        rows.sort(key=lambda r: r[0])
    return out


# -- reasons -------------------------------------------------------------------------------------


def explain(
    t: Transfer, events: Sequence[tuple[int, str, dict[str, Any]]], *, me: str, escrow: str
) -> Explained:
    """Why cash moved in `t`, from the events of its transaction (pure)."""
    following = [e for e in events if e[0] > t.log_index]
    reason = next((e for e in following if e[1] in REASONS), None)
    other = t.recipient if t.sender == me else t.sender
    if reason is None:
        if t.sender == ZERO:
            return Explained("minted", None)
        if t.recipient == ZERO:
            return Explained("burned", None)
        return Explained("transfer", other)
    li, name, a = reason
    if name == "OfferPosted":
        return Explained(
            "offer_escrowed", escrow, piece_id=int(a["pieceId"]), offer_id=int(a["offerId"])
        )
    if name == "OfferAccepted":
        return Explained(
            "sale", a["financier"], piece_id=int(a["pieceId"]), offer_id=int(a["offerId"])
        )
    if name == "OfferCancelled":
        return Explained(
            "offer_refunded",
            escrow,
            piece_id=int(a["pieceId"]),
            offer_id=int(a["offerId"]),
            expired=bool(a["expired"]),
        )
    if name == "Repaid":
        return Explained("repayment", escrow, root_id=int(a["rootId"]))
    if name == "PiecePaid":
        in_pass = any(e[1] == "Distributed" and e[0] > li for e in following)
        return Explained(
            "payout" if in_pass else "claim",
            None,  # the root's debtor, filled in by the caller
            root_id=int(a["rootId"]),
            piece_id=int(a["pieceId"]),
        )
    # ReceivableClosed: the rounding remainder left in escrow, paid on close
    return Explained("remainder", None, root_id=int(a["rootId"]))


def words(m: Movement, *, expired: bool = False) -> str:
    """The reason of a movement as a person reads it on a statement."""
    p, r, o = m.piece_id, m.root_id, m.offer_id
    match m.kind:
        case "minted":
            return "minted: cash issued against a deposit at the settlement bank"
        case "burned":
            return "burned: cash redeemed at the settlement bank"
        case "transfer":
            return "transfer " + ("from" if m.amount > 0 else "to") + " another member"
        case "offer_escrowed":
            return f"offer {o} for piece {p} escrowed"
        case "purchase":
            return f"purchase of piece {p} (offer {o}, escrowed when posted)"
        case "offer_refunded":
            return f"offer {o} for piece {p} refunded" + (" on expiry" if expired else "")
        case "sale":
            return f"sale of piece {p} (offer {o})"
        case "repayment":
            return f"repayment of receivable {r}"
        case "payout":
            return f"payout for piece {p} of receivable {r}"
        case "claim":
            return f"claim: payout for piece {p} of receivable {r}"
        case "remainder":
            return f"remainder of receivable {r} paid on close"
    raise ValueError(f"unknown movement kind {m.kind}")


def movements(
    *, mirror: Session, ledger: CashLedger, address: str, from_block: int, to_block: int
) -> tuple[int, list[Movement]]:
    """The opening balance at the start of `from_block` and every movement of `address`'s cash
    in `from_block..to_block`, each with its reason, counterparty, running balance and time.
    An offer escrowed in the period and accepted by `to_block` reads as the purchase it became."""
    me = address.lower()
    every = transfers(mirror=mirror, ledger=ledger, address=me, to_block=to_block)
    opening = 0
    inside: list[Transfer] = []
    for t in every:
        delta = _delta(t, me)
        if t.block_number < from_block:
            opening += delta
        else:
            inside.append(t)
    events = tx_events(mirror=mirror, ledger=ledger, tx_hashes=(t.tx_hash for t in inside))
    out: list[Movement] = []
    refunds_on_expiry: set[int] = set()
    balance = opening
    for t in inside:
        why = explain(t, events.get(t.tx_hash, ()), me=me, escrow=ledger.escrow)
        amount = _delta(t, me)
        balance += amount
        out.append(
            Movement(
                block_number=t.block_number,
                log_index=t.log_index,
                tx_hash=t.tx_hash,
                block_hash=t.block_hash,
                amount=amount,
                kind=why.kind,
                reason="",
                counterparty=why.counterparty,
                root_id=why.root_id,
                piece_id=why.piece_id,
                offer_id=why.offer_id,
                balance=balance,
            )
        )
        if why.expired and why.offer_id is not None:
            refunds_on_expiry.add(why.offer_id)
    _purchases(mirror=mirror, ledger=ledger, moves=out, to_block=to_block)
    _debtors(mirror=mirror, ledger=ledger, moves=out)
    times = ledger.clock.times(m.block_hash for m in out)
    for m in out:
        m.time = times.get(m.block_hash)
        m.reason = words(m, expired=m.offer_id in refunds_on_expiry and m.kind == "offer_refunded")
    return opening, out


def _delta(t: Transfer, me: str) -> int:
    if t.sender == t.recipient:
        return 0
    return t.value if t.recipient == me else -t.value


def _purchases(
    *, mirror: Session, ledger: CashLedger, moves: list[Movement], to_block: int
) -> None:
    escrowed = {m.offer_id for m in moves if m.kind == "offer_escrowed"}
    if not escrowed:
        return
    accepted = {
        o.offer_id: o.seller
        for o in mirror.exec(
            select(Offer).where(
                Offer.chain_id == ledger.chain_id,
                col(Offer.offer_id).in_(escrowed),
                Offer.status == int(OfferStatus.ACCEPTED),
                col(Offer.closed_block) <= to_block,
            )
        )
    }
    for m in moves:
        if m.kind == "offer_escrowed" and m.offer_id in accepted:
            m.kind = "purchase"
            m.counterparty = accepted[m.offer_id]


def _debtors(*, mirror: Session, ledger: CashLedger, moves: list[Movement]) -> None:
    """Payouts, claims and remainders come from the receivable's debtor (through escrow)."""
    roots = {
        m.root_id
        for m in moves
        if m.kind in ("payout", "claim", "remainder") and m.root_id is not None
    }
    if not roots:
        return
    debtor = debtors_of(mirror=mirror, ledger=ledger, root_ids=roots)
    for m in moves:
        if m.kind in ("payout", "claim", "remainder") and m.root_id is not None:
            m.counterparty = debtor.get(m.root_id)


def debtors_of(*, mirror: Session, ledger: CashLedger, root_ids: Iterable[int]) -> dict[int, str]:
    ids = sorted(set(root_ids))
    out: dict[int, str] = {}
    for i in range(0, len(ids), CHUNK):
        out.update(
            mirror.exec(
                select(Root.root_id, Root.debtor).where(
                    Root.chain_id == ledger.chain_id, col(Root.root_id).in_(ids[i : i + CHUNK])
                )
            ).all()
        )
    return out


# -- position ------------------------------------------------------------------------------------


def balance_at(*, mirror: Session, ledger: CashLedger, address: str, block: int | None) -> int:
    """The member's cash at the end of `block` (None: as the mirror has it now)."""
    me = address.lower()
    if block is None:
        row = mirror.exec(
            select(CashBalance.balance).where(
                CashBalance.chain_id == ledger.chain_id, CashBalance.address == me
            )
        ).first()
        return int(row) if row is not None else 0
    return sum(
        _delta(t, me) for t in transfers(mirror=mirror, ledger=ledger, address=me, to_block=block)
    )


def open_offers_at(
    *, mirror: Session, ledger: CashLedger, address: str, block: int
) -> list[dict[str, int]]:
    """The member's offers open at the end of `block`: their prices are in escrow for it."""
    rows = mirror.exec(
        select(Offer)
        .where(
            Offer.chain_id == ledger.chain_id,
            Offer.financier == address.lower(),
            col(Offer.posted_block) <= block,
            (col(Offer.closed_block).is_(None)) | (col(Offer.closed_block) > block),
        )
        .order_by(col(Offer.offer_id))
    ).all()
    return [
        {"offer_id": o.offer_id, "piece_id": o.piece_id, "price": int(o.price), "expiry": o.expiry}
        for o in rows
    ]


def repaid_in_escrow_at(
    *, mirror: Session, ledger: CashLedger, address: str, block: int
) -> list[dict[str, int]]:
    """For a debtor: per receivable, what it has repaid by the end of `block` and what of it
    is not yet paid out (repaid - paid out to pieces - a remainder paid on close)."""
    me = address.lower()
    roots = list(
        mirror.exec(
            select(Root.root_id).where(
                Root.chain_id == ledger.chain_id,
                Root.debtor == me,
                col(Root.registered_block) <= block,
            )
        ).all()
    )
    if not roots:
        return []
    repaid: dict[int, int] = {}
    for rid, amount in mirror.exec(
        select(Repayment.root_id, Repayment.amount).where(
            Repayment.chain_id == ledger.chain_id,
            col(Repayment.root_id).in_(roots),
            col(Repayment.block_number) <= block,
        )
    ):
        repaid[rid] = repaid.get(rid, 0) + int(amount)
    if not repaid:
        return []
    paid: dict[int, int] = {}
    for rid, amount in mirror.exec(
        select(PiecePayment.root_id, PiecePayment.amount).where(
            PiecePayment.chain_id == ledger.chain_id,
            col(PiecePayment.root_id).in_(list(repaid)),
            col(PiecePayment.block_number) <= block,
        )
    ):
        paid[rid] = paid.get(rid, 0) + int(amount)
    for args in mirror.exec(
        select(LedgerEvent.args).where(
            LedgerEvent.chain_id == ledger.chain_id,
            LedgerEvent.contract == RECEIVABLES,
            LedgerEvent.event == "ReceivableClosed",
            col(LedgerEvent.block_number) <= block,
        )
    ):
        rid = int(args["rootId"])
        if rid in repaid:
            paid[rid] = paid.get(rid, 0) + int(args["remainder"])
    return [
        {
            "root_id": rid,
            "repaid": repaid[rid],
            "paid_out": paid.get(rid, 0),
            "in_escrow": repaid[rid] - paid.get(rid, 0),
        }
        for rid in sorted(repaid)
    ]


def position(
    *, mirror: Session, ledger: CashLedger, address: str, block: int | None, cursor: int
) -> dict[str, Any]:
    """The member's cash at the end of `block` (None: now, as of the mirror's `cursor`) and the
    cash in escrow on its behalf: its open offers' prices and, as a debtor, what it repaid
    that is not yet paid out."""
    at = cursor if block is None else block
    offers = open_offers_at(mirror=mirror, ledger=ledger, address=address, block=at)
    repaid = [
        r
        for r in repaid_in_escrow_at(mirror=mirror, ledger=ledger, address=address, block=at)
        if r["in_escrow"]
    ]
    balance = balance_at(mirror=mirror, ledger=ledger, address=address, block=block)
    escrow = sum(o["price"] for o in offers) + sum(r["in_escrow"] for r in repaid)
    return {
        "member": address,
        "block": at,
        "balance": balance,
        "in_escrow": escrow,
        "offers": offers,
        "repayments": repaid,
        "total": balance + escrow,
    }
