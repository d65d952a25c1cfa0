"""A member's settlement cash from the mirror: every movement with its reason in words, and its
position (balance, cash in escrow on its behalf) at any block.

A movement is one SettlementToken `Transfer` touching the member. Its reason is the Receivables
event of the same transaction that follows it and moves the same amount through escrow
(`REASONS`): the contract emits each right after the token transfer it causes (`postOffer`:
Transfer into escrow, then `OfferPosted`; `acceptOffer`: Transfer to the seller, the piece's
TransferSingle, then `OfferAccepted`; `_payPiece`: Transfer to the holder, then `PiecePaid`;
...), so a batch of payouts in one `distribute` pairs each Transfer with its own `PiecePaid`.
Each of those events names the member (holder, financier, seller, debtor, the remainder's
recipient), so one index range of the party table reads them beside its Transfers. A Transfer
explained by none is a mint (from zero), a burn (to zero) or a transfer between members.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import BigInteger, and_, cast, func, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from backend.runtime import Runtime
from backend.services.blocktimes import BlockClock
from chain.enums import OfferStatus
from indexer.models import (
    CashBalance,
    Distribution,
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
    counterparty: str | None
    root_id: int | None = None
    piece_id: int | None = None
    offer_id: int | None = None
    balance: int = 0
    time: int | None = None
    expired: bool = False
    reason: str = ""


class LedgerRow(NamedTuple):
    """A cash Transfer of the member, or a Receivables event of it that may explain one, with
    what the statement needs of the receivable and offer it names (outer-joined)."""

    block_number: int
    log_index: int
    block_hash: str
    tx_hash: str
    event: str
    sender: str | None
    recipient: str | None
    amount: str | None  # Transfer value; the reason's price, refund, amount or remainder
    piece_id: str | None
    root_id: int | None
    offer_id: int | None
    financier: str | None
    expired: Any
    debtor: str | None
    offer_status: int | None
    offer_closed_block: int | None
    offer_seller: str | None


# -- reading the mirror --------------------------------------------------------------------------


def _arg(name: str) -> Any:
    return col(LedgerEvent.args)[name].as_string()


def _mine(ledger: CashLedger, address: str, to_block: int) -> Any:
    """The member's events up to `to_block` (the party table's key: one index range)."""
    ep, ev = LedgerEventParty, LedgerEvent
    return and_(
        col(ep.chain_id) == ledger.chain_id,
        col(ep.party) == address,
        col(ep.block_number) <= to_block,
        col(ev.chain_id) == col(ep.chain_id),
        col(ev.id) == col(ep.event_id),
    )


def transfers(
    *, mirror: Session, ledger: CashLedger, address: str, to_block: int
) -> list[Transfer]:
    """The member's cash Transfers up to `to_block`, in chain order."""
    ev = LedgerEvent
    stmt = (
        sa_select(col(ev.block_number), col(ev.log_index), _arg("from"), _arg("to"), _arg("value"))
        .select_from(LedgerEventParty)
        .join(ev, _mine(ledger, address, to_block))
        .where(col(ev.contract) == TOKEN, col(ev.event) == "Transfer")
        .order_by(col(ev.block_number), col(ev.log_index))
    )
    return [Transfer(b, li, f, t, int(v)) for b, li, f, t, v in mirror.execute(stmt)]


def ledger_rows(
    *, mirror: Session, ledger: CashLedger, address: str, to_block: int
) -> list[LedgerRow]:
    """The member's cash Transfers and its cash-moving Receivables events up to `to_block`, in
    chain order, in one query: each reason names the member (holder, financier, seller,
    debtor, remainder's recipient), so the party table finds them beside the Transfers."""
    stmt = ledger_rows_query(ledger=ledger, address=address, to_block=to_block)
    return [LedgerRow(*r) for r in mirror.execute(stmt)]


def ledger_rows_query(*, ledger: CashLedger, address: str, to_block: int) -> Any:
    ev = LedgerEvent
    root_id = cast(_arg("rootId"), BigInteger)
    offer_id = cast(_arg("offerId"), BigInteger)
    amount = func.coalesce(
        _arg("value"), _arg("price"), _arg("refund"), _arg("amount"), _arg("remainder")
    )
    return (
        sa_select(
            col(ev.block_number),
            col(ev.log_index),
            col(ev.block_hash),
            col(ev.tx_hash),
            col(ev.event),
            _arg("from"),
            _arg("to"),
            amount,
            _arg("pieceId"),
            root_id,
            offer_id,
            _arg("financier"),
            _arg("expired"),
            col(Root.debtor),
            col(Offer.status),
            col(Offer.closed_block),
            col(Offer.seller),
        )
        .select_from(LedgerEventParty)
        .join(ev, _mine(ledger, address, to_block))
        .outerjoin(Root, and_(col(Root.chain_id) == ev.chain_id, col(Root.root_id) == root_id))
        .outerjoin(Offer, and_(col(Offer.chain_id) == ev.chain_id, col(Offer.offer_id) == offer_id))
        .where(
            or_(
                and_(col(ev.contract) == TOKEN, col(ev.event) == "Transfer"),
                and_(col(ev.contract) == RECEIVABLES, col(ev.event).in_(sorted(REASONS))),
            )
        )
        .order_by(col(ev.block_number), col(ev.log_index))
    )


def payouts_in_passes(
    *, mirror: Session, ledger: CashLedger, address: str, from_block: int, to_block: int
) -> set[tuple[int, int]]:
    """Positions of the member's payouts made by a distribution pass (the others are claims)."""
    pp, d = PiecePayment, Distribution
    stmt = (
        sa_select(col(pp.block_number), col(pp.log_index))
        .join(
            d,
            and_(
                col(d.chain_id) == col(pp.chain_id),
                col(d.block_number) == col(pp.block_number),
                col(d.tx_hash) == col(pp.tx_hash),
            ),
        )
        .where(
            col(pp.chain_id) == ledger.chain_id,
            col(pp.holder) == address,
            col(pp.block_number) >= from_block,
            col(pp.block_number) <= to_block,
        )
    )
    return {(b, li) for b, li in mirror.execute(stmt)}


# -- reasons -------------------------------------------------------------------------------------


def _true(value: Any) -> bool:
    return str(value).lower() in ("true", "1")  # JSON true read as text (PostgreSQL) or 1


def pair(
    rows: Iterable[LedgerRow],
    *,
    me: str,
    escrow: str,
    passes: set[tuple[int, int]],
    to_block: int,
) -> list[Movement]:
    """The member's movements from its rows in chain order, each Transfer explained by the
    Receivables event that follows it in its transaction and moves the same amount through
    escrow (pure). A Transfer left unexplained is a mint, a burn or a member's transfer."""
    out: list[Movement] = []
    pending: list[Movement] = []  # this transaction's escrow movements not yet explained
    tx = None
    for r in rows:
        if r.tx_hash != tx:
            tx, pending = r.tx_hash, []
        if r.event == "Transfer":
            sender, recipient = r.sender or ZERO, r.recipient or ZERO
            value = int(r.amount or 0)
            signed = 0 if sender == recipient else (value if recipient == me else -value)
            other = recipient if sender == me else sender
            kind = "minted" if sender == ZERO else "burned" if recipient == ZERO else "transfer"
            m = Movement(
                r.block_number,
                r.log_index,
                r.tx_hash,
                r.block_hash,
                signed,
                kind,
                None if kind != "transfer" else other,
            )
            out.append(m)
            if other == escrow:
                pending.append(m)
            continue
        amount = int(r.amount or 0)
        for k in range(len(pending) - 1, -1, -1):
            if abs(pending[k].amount) == amount:
                _explain(pending.pop(k), r, escrow=escrow, passes=passes, to_block=to_block)
                break
    return out


def _explain(
    m: Movement, r: LedgerRow, *, escrow: str, passes: set[tuple[int, int]], to_block: int
) -> None:
    piece = int(r.piece_id) if r.piece_id is not None else None
    match r.event:
        case "OfferPosted":
            m.offer_id, m.piece_id = r.offer_id, piece
            bought = (
                r.offer_status == OfferStatus.ACCEPTED and (r.offer_closed_block or 0) <= to_block
            )
            m.kind = "purchase" if bought else "offer_escrowed"
            m.counterparty = r.offer_seller if bought else escrow
        case "OfferAccepted":
            m.kind, m.offer_id, m.piece_id, m.counterparty = "sale", r.offer_id, piece, r.financier
        case "OfferCancelled":
            m.kind, m.offer_id, m.piece_id, m.counterparty = (
                "offer_refunded",
                r.offer_id,
                piece,
                escrow,
            )
            m.expired = _true(r.expired)
        case "Repaid":
            m.kind, m.root_id, m.counterparty = "repayment", r.root_id, escrow
        case "PiecePaid":
            in_pass = (r.block_number, r.log_index) in passes
            m.kind = "payout" if in_pass else "claim"
            m.root_id, m.piece_id, m.counterparty = r.root_id, piece, r.debtor
        case "ReceivableClosed":
            m.kind, m.root_id, m.counterparty = "remainder", r.root_id, r.debtor


def words(m: Movement) -> str:
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
            return f"offer {o} for piece {p} refunded" + (" on expiry" if m.expired else "")
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
    rows = ledger_rows(mirror=mirror, ledger=ledger, address=me, to_block=to_block)
    passes = payouts_in_passes(
        mirror=mirror, ledger=ledger, address=me, from_block=from_block, to_block=to_block
    )
    every = pair(rows, me=me, escrow=ledger.escrow, passes=passes, to_block=to_block)
    opening = sum(m.amount for m in every if m.block_number < from_block)
    inside = [m for m in every if m.block_number >= from_block]
    times = ledger.clock.times({m.block_hash for m in inside})
    balance = opening
    for m in inside:
        balance += m.amount
        m.balance = balance
        m.time = times.get(m.block_hash)
        m.reason = words(m)
    return opening, inside


def _delta(t: Transfer, me: str) -> int:
    if t.sender == t.recipient:
        return 0
    return t.value if t.recipient == me else -t.value


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
