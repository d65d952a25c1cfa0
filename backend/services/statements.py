"""A member's reports over a period: its account statement (every movement of its cash, with
opening, running and closing balance) and its remittance advice (each payout to it, and which
share of which repayment it carries); JSON bodies and CSV.

Bodies are plain dicts (their schemas are in `backend.schemas`): a statement of 10,000
movements is built without validating 10,000 models.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from eth_utils.address import to_checksum_address
from sqlalchemy import and_
from sqlmodel import Session, col, select

from backend.errors import InvalidInput
from backend.runtime import Runtime
from backend.services.audit import csv_chunks, holdings_block
from backend.services.blocktimes import block_range_of_days, iso
from backend.services.cash import CHUNK, CashLedger, debtors_of, movements
from chain.pricing import entitlement
from indexer.models import Distribution, LedgerEvent, Piece, PiecePayment, Repayment, Root


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
            "counterparty_name": None,
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
        "member_name": None,
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
    # each payout with its block's hash (its PiecePaid event, by position), to time it
    rows = mirror.exec(
        select(pp, ev.block_hash)
        .join(
            ev,
            and_(
                col(ev.chain_id) == pp.chain_id,
                col(ev.block_number) == pp.block_number,
                col(ev.log_index) == pp.log_index,
            ),
        )
        .where(
            pp.chain_id == ledger.chain_id,
            pp.holder == me,
            col(pp.block_number) >= span.from_block,
            col(pp.block_number) <= span.to_block,
        )
        .order_by(col(pp.block_number), col(pp.log_index))
    ).all()
    pays = [p for p, _ in rows]
    block_hash = {(p.block_number, p.log_index): h for p, h in rows}
    root_ids = sorted({p.root_id for p in pays})
    piece_ids = sorted({p.piece_id for p in pays})
    faces: dict[int, int] = {}
    amounts: dict[int, int] = {}
    repayments: dict[int, list[Repayment]] = {}
    passes: set[str] = set()
    for chunk in _chunks(root_ids):
        faces.update(
            (r, int(f))
            for r, f in mirror.exec(
                select(Root.root_id, Root.face_value).where(
                    Root.chain_id == ledger.chain_id, col(Root.root_id).in_(chunk)
                )
            )
        )
        for rep in mirror.exec(
            select(Repayment).where(
                Repayment.chain_id == ledger.chain_id,
                col(Repayment.root_id).in_(chunk),
                col(Repayment.block_number) <= span.to_block,
            )
        ):
            repayments.setdefault(rep.root_id, []).append(rep)
        passes.update(
            mirror.exec(
                select(Distribution.tx_hash).where(
                    Distribution.chain_id == ledger.chain_id,
                    col(Distribution.root_id).in_(chunk),
                    col(Distribution.block_number) >= span.from_block,
                    col(Distribution.block_number) <= span.to_block,
                )
            )
        )
    for chunk in _chunks(piece_ids):
        amounts.update(
            (p, int(a))
            for p, a in mirror.exec(
                select(Piece.piece_id, Piece.amount).where(
                    Piece.chain_id == ledger.chain_id, col(Piece.piece_id).in_(chunk)
                )
            )
        )
    for reps in repayments.values():
        reps.sort(key=lambda r: (r.block_number, r.log_index))
    positions = {
        rid: [(r.block_number, r.log_index) for r in reps] for rid, reps in repayments.items()
    }
    debtor = debtors_of(mirror=mirror, ledger=ledger, root_ids=root_ids)
    times = ledger.clock.times(block_hash.values())
    out = []
    for p in pays:
        face, piece_amount = faces[p.root_id], amounts[p.piece_id]
        reps = repayments.get(p.root_id, [])
        # the repayments in before this payout (a payout follows every repayment it pays)
        upto = bisect.bisect_left(positions.get(p.root_id, []), (p.block_number, p.log_index))
        paid_before = int(p.paid_out) - int(p.amount)
        running = paid_before
        parts = []
        for rep in reps[:upto]:
            due = entitlement(piece_amount, repaid=int(rep.total_repaid), face_value=face)
            if due > running:
                parts.append(
                    {
                        "block_number": rep.block_number,
                        "tx_hash": rep.tx_hash,
                        "repayment": int(rep.amount),
                        "total_repaid": int(rep.total_repaid),
                        "carried": due - running,
                    }
                )
                running = due
        out.append(
            {
                "block_number": p.block_number,
                "log_index": p.log_index,
                "time": _time(times.get(block_hash[(p.block_number, p.log_index)])),
                "tx_hash": p.tx_hash,
                "by": "distribution" if p.tx_hash in passes else "claim",
                "root_id": p.root_id,
                "debtor": shown(debtor.get(p.root_id)),
                "debtor_name": None,
                "piece_id": p.piece_id,
                "piece_amount": piece_amount,
                "face_value": face,
                "share": f"{piece_amount}/{face}",
                "amount": int(p.amount),
                "paid_out": int(p.paid_out),
                "repayments": parts,
            }
        )
    return {
        "member": shown(address),
        "member_name": None,
        "currency": currency,
        "period": span.as_dict(ledger),
        "total": sum(r["amount"] for r in out),
        "count": len(out),
        "payouts": out,
    }


def _chunks(ids: list[int]) -> Iterator[list[int]]:
    for i in range(0, len(ids), CHUNK):
        yield ids[i : i + CHUNK]


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
