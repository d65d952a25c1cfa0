"""A member's reports over a period: its account statement (every movement of its cash, with
opening, running and closing balance) and its remittance advice (each payout to it, and which
share of which repayment it carries); JSON bodies and CSV.

Bodies are plain dicts (their schemas are in `backend.schemas`): a statement of 10,000
movements is built without validating 10,000 models.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from eth_utils.address import to_checksum_address
from sqlalchemy import and_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from backend.errors import InvalidInput
from backend.runtime import Runtime
from backend.services.audit import csv_chunks, holdings_block
from backend.services.blocktimes import block_range_of_days, iso
from backend.services.cash import CashLedger, movements, payouts_in_passes
from chain.pricing import entitlement
from indexer.models import LedgerEvent, Piece, PiecePayment, Repayment, Root


@lru_cache(maxsize=65_536)
def shown(address: str | None) -> str | None:
    """EIP-55 for an answer (cached: a statement names the same few counterparties often)."""
    return to_checksum_address(address) if address else None


@dataclass(frozen=True)
class Period:
    """A closed block range, and the UTC days it was asked for by (if it was)."""

    from_block: int
    to_block: int
    from_date: date | None = None
    to_date: date | None = None

    def as_dict(self, ledger: CashLedger) -> dict[str, Any]:
        times = {}
        if self.from_block <= self.to_block:
            times = {
                "from_time": iso(ledger.clock.at(self.from_block)),
                "to_time": iso(ledger.clock.at(self.to_block)),
            }
        return {
            "from_block": self.from_block,
            "to_block": self.to_block,
            "from_date": self.from_date.isoformat() if self.from_date else None,
            "to_date": self.to_date.isoformat() if self.to_date else None,
            "from_time": times.get("from_time"),
            "to_time": times.get("to_time"),
        }


def period(
    *,
    rt: Runtime,
    ledger: CashLedger,
    from_date: date | None = None,
    to_date: date | None = None,
    from_block: int | None = None,
    to_block: int | None = None,
) -> Period:
    """The blocks a report covers: by UTC days (`from_date`..`to_date`, each end included) or by
    blocks; by default from the first block to the mirror's. A block beyond the chain's head
    is refused, as for every as-of-block read."""
    by_date = from_date is not None or to_date is not None
    if by_date and (from_block is not None or to_block is not None):
        raise InvalidInput(
            "give the period by dates (from, to) or by blocks (from_block, to_block), not both",
            code="PeriodMixed",
        )
    cursor = rt.mirror_cursor()
    if by_date:
        head = max(cursor, 0)
        first = from_date or date(1970, 1, 1)
        last = to_date or date(9999, 12, 30)
        start, end = block_range_of_days(ledger.clock, first=first, last=last, head=head)
        return Period(start, min(end, cursor), from_date, to_date)
    end = holdings_block(rt=rt, block=to_block)
    start = from_block or 0
    if start > end:
        raise InvalidInput(
            f"the period ends at block {end}, before it starts (block {start})",
            code="PeriodReversed",
            details={"from_block": start, "to_block": end},
        )
    return Period(start, end)


# -- account statement ---------------------------------------------------------------------------


def statement(
    *, mirror: Session, ledger: CashLedger, address: str, span: Period, currency: str
) -> dict[str, Any]:
    """The account statement of `address` for `span`: opening balance, each movement with its
    reason, counterparty, transaction, time and running balance, and the closing balance."""
    opening, moves = movements(
        mirror=mirror,
        ledger=ledger,
        address=address,
        from_block=span.from_block,
        to_block=span.to_block,
    )
    rows = [
        {
            "block_number": m.block_number,
            "log_index": m.log_index,
            "time": _time(m.time),
            "tx_hash": m.tx_hash,
            "kind": m.kind,
            "reason": m.reason,
            "counterparty": shown(m.counterparty),
            "root_id": m.root_id,
            "piece_id": m.piece_id,
            "offer_id": m.offer_id,
            "amount": m.amount,
            "balance": m.balance,
        }
        for m in moves
    ]
    total_in = sum(m.amount for m in moves if m.amount > 0)
    total_out = -sum(m.amount for m in moves if m.amount < 0)
    return {
        "member": shown(address),
        "currency": currency,
        "period": span.as_dict(ledger),
        "opening_balance": opening,
        "total_in": total_in,
        "total_out": total_out,
        "closing_balance": opening + total_in - total_out,
        "count": len(rows),
        "movements": rows,
    }


# -- remittance advice ---------------------------------------------------------------------------


def remittances(
    *, mirror: Session, ledger: CashLedger, address: str, span: Period, currency: str
) -> dict[str, Any]:
    """Each payout to `address` in `span` (by a distribution pass or its own claim): the
    receivable and piece, the piece's share of the receivable, and how much of each repayment
    it carries. A piece is paid `amount x repaid / face` rounded down, less what it was paid
    before; so repayment j carries ent(total after j) - ent(total before j) of it, and those
    parts sum to the payout exactly."""
    me = address.lower()
    pp, ev = PiecePayment, LedgerEvent
    mine = and_(
        col(pp.chain_id) == ledger.chain_id,
        col(pp.holder) == me,
        col(pp.block_number) >= span.from_block,
        col(pp.block_number) <= span.to_block,
    )
    # each payout with its block's hash (its PiecePaid event, by position, to time it), its
    # receivable's face value and debtor, and its piece's amount
    pays = mirror.execute(
        sa_select(
            col(pp.block_number),
            col(pp.log_index),
            col(pp.tx_hash),
            col(pp.piece_id),
            col(pp.root_id),
            col(pp.amount),
            col(pp.paid_out),
            col(ev.block_hash),
            col(Root.face_value),
            col(Root.debtor),
            col(Piece.amount),
        )
        .join(
            ev,
            and_(
                col(ev.chain_id) == col(pp.chain_id),
                col(ev.block_number) == col(pp.block_number),
                col(ev.log_index) == col(pp.log_index),
            ),
        )
        .join(
            Root, and_(col(Root.chain_id) == col(pp.chain_id), col(Root.root_id) == col(pp.root_id))
        )
        .join(
            Piece,
            and_(col(Piece.chain_id) == col(pp.chain_id), col(Piece.piece_id) == col(pp.piece_id)),
        )
        .where(mine)
        .order_by(col(pp.block_number), col(pp.log_index))
    ).all()
    paid_roots = sa_select(col(pp.root_id)).where(mine).distinct()
    rp = Repayment
    repayments: dict[int, list[tuple[int, int, str, int, int]]] = {}
    for rid, *rep in mirror.execute(
        sa_select(
            col(rp.root_id),
            col(rp.block_number),
            col(rp.log_index),
            col(rp.tx_hash),
            col(rp.amount),
            col(rp.total_repaid),
        )
        .where(
            col(rp.chain_id) == ledger.chain_id,
            col(rp.root_id).in_(paid_roots),
            col(rp.block_number) <= span.to_block,
        )
        .order_by(col(rp.block_number), col(rp.log_index))
    ):
        repayments.setdefault(rid, []).append((rep[0], rep[1], rep[2], int(rep[3]), int(rep[4])))
    positions = {rid: [(r[0], r[1]) for r in reps] for rid, reps in repayments.items()}
    passes = payouts_in_passes(
        mirror=mirror,
        ledger=ledger,
        address=me,
        from_block=span.from_block,
        to_block=span.to_block,
    )
    times = ledger.clock.times({p[7] for p in pays})
    out = []
    for (
        block,
        log_index,
        tx,
        piece_id,
        root_id,
        amount,
        paid_out,
        bhash,
        face_,
        debtor,
        size,
    ) in pays:
        face, piece_amount, amount, paid_out = int(face_), int(size), int(amount), int(paid_out)
        reps = repayments.get(root_id, [])
        # the repayments in before this payout (a payout follows every repayment it pays)
        upto = bisect.bisect_left(positions.get(root_id, []), (block, log_index))
        running = paid_out - amount
        parts = []
        for r_block, _, r_tx, r_amount, r_total in reps[:upto]:
            due = entitlement(piece_amount, repaid=r_total, face_value=face)
            if due > running:
                parts.append(
                    {
                        "block_number": r_block,
                        "tx_hash": r_tx,
                        "repayment": r_amount,
                        "total_repaid": r_total,
                        "carried": due - running,
                    }
                )
                running = due
        out.append(
            {
                "block_number": block,
                "log_index": log_index,
                "time": _time(times.get(bhash)),
                "tx_hash": tx,
                "by": "distribution" if (block, log_index) in passes else "claim",
                "root_id": root_id,
                "debtor": shown(debtor),
                "piece_id": piece_id,
                "piece_amount": piece_amount,
                "face_value": face,
                "share": f"{piece_amount}/{face}",
                "amount": amount,
                "paid_out": paid_out,
                "repayments": parts,
            }
        )
    return {
        "member": shown(address),
        "currency": currency,
        "period": span.as_dict(ledger),
        "total": sum(r["amount"] for r in out),
        "count": len(out),
        "payouts": out,
    }


def _time(timestamp: int | None) -> str | None:
    return iso(timestamp) if timestamp is not None else None


# -- CSV -----------------------------------------------------------------------------------------

#: The columns of each CSV export, in order: an export with no rows still carries its header.
STATEMENT_COLUMNS = (
    "block_number",
    "log_index",
    "time",
    "tx_hash",
    "kind",
    "reason",
    "counterparty",
    "counterparty_name",
    "root_id",
    "piece_id",
    "offer_id",
    "amount",
    "balance",
)
REMITTANCE_COLUMNS = (
    "block_number",
    "log_index",
    "time",
    "tx_hash",
    "by",
    "root_id",
    "debtor",
    "debtor_name",
    "piece_id",
    "piece_amount",
    "face_value",
    "share",
    "amount",
    "paid_out",
    "repayment_block",
    "repayment_tx_hash",
    "repayment",
    "total_repaid",
    "carried",
)


def statement_csv(body: dict[str, Any]) -> str:
    """One row a movement; the opening and closing balance are the first row's balance less its
    amount and the last row's balance (and in the JSON and PDF forms)."""
    return "".join(csv_chunks([body["movements"]], STATEMENT_COLUMNS))


def remittance_csv(body: dict[str, Any]) -> str:
    """One row for each repayment a payout carries (a payout that carries none: one row)."""
    rows = []
    for p in body["payouts"]:
        head = {k: v for k, v in p.items() if k != "repayments"}
        for part in p["repayments"] or [{}]:
            rows.append(
                {
                    **head,
                    "repayment_block": part.get("block_number"),
                    "repayment_tx_hash": part.get("tx_hash"),
                    "repayment": part.get("repayment"),
                    "total_repaid": part.get("total_repaid"),
                    "carried": part.get("carried"),
                }
            )
    return "".join(csv_chunks([rows], REMITTANCE_COLUMNS))
