"""Auditor reports over the mirror: events, provenance trees, holdings as of a block, exposure,
aging, reconciliation; each also as CSV."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import and_, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from backend.errors import InvalidInput, NotFound
from backend.runtime import Runtime
from backend.services.common import chain_now, ledger_status
from backend.services.views import piece_out, role_names, root_out, root_row
from chain.artifacts import CONTRACT_NAMES
from chain.enums import PieceStatus, Role, RootStatus
from indexer.models import Holding, LedgerEvent, LedgerEventParty, Member, Piece, Root

DAY = 86_400

#: The name events are stored under (the contract's), by each spelling the API accepts, in lower
#: case: the contract's own name, as every event shows it, and its short name.
CONTRACTS: dict[str, str] = {
    **{name.lower(): name for name in CONTRACT_NAMES},
    "registry": "MemberRegistry",
    "token": "SettlementToken",
    "receivables": "Receivables",
}


def contract_name(spelling: str) -> str:
    """The stored contract name for `registry`, `MemberRegistry`, `memberregistry`, … (any case)."""
    try:
        return CONTRACTS[spelling.strip().lower()]
    except KeyError:
        accepted = sorted({*CONTRACTS.values(), "registry", "token", "receivables"})
        raise InvalidInput(
            f"unknown contract {spelling!r}: one of {', '.join(accepted)} (any case)",
            details={"contract": spelling, "accepted": accepted},
        ) from None


def events(
    *,
    rt: Runtime,
    mirror: Session,
    from_block: int | None,
    to_block: int | None,
    contract: str | None,
    event: str | None,
    party: str | None,
    after: int,
    limit: int,
) -> tuple[list[dict[str, Any]], int | None]:
    if party is not None:
        # Through the party table: its key (chain, party, event id) walks the party's events
        # from the cursor in id order, one index range scan, each joined to its event by id.
        # The cursor is repeated on the event side, or a merge join reads events from id 0.
        ep = LedgerEventParty
        stmt = (
            select(LedgerEvent)
            .join(
                ep,
                and_(col(ep.chain_id) == LedgerEvent.chain_id, col(ep.event_id) == LedgerEvent.id),
            )
            .where(
                ep.chain_id == rt.chain_id,
                ep.party == party.lower(),
                col(ep.event_id) > after,
                col(LedgerEvent.id) > after,
            )
        )
        if from_block is not None:
            stmt = stmt.where(ep.block_number >= from_block)
        if to_block is not None:
            stmt = stmt.where(ep.block_number <= to_block)
    else:
        stmt = select(LedgerEvent).where(
            LedgerEvent.chain_id == rt.chain_id, col(LedgerEvent.id) > after
        )
        if from_block is not None:
            stmt = stmt.where(LedgerEvent.block_number >= from_block)
        if to_block is not None:
            stmt = stmt.where(LedgerEvent.block_number <= to_block)
    if contract is not None:
        stmt = stmt.where(LedgerEvent.contract == contract_name(contract))
    if event is not None:
        stmt = stmt.where(LedgerEvent.event == event)
    if party is not None:
        rows = list(
            mirror.exec(stmt.order_by(col(LedgerEventParty.event_id)).limit(limit + 1)).all()
        )
    elif from_block is not None and to_block is not None:
        # A closed block range, in ledger position order, which is id order: the indexer
        # writes events in chain order and, on a reorg, removes every event above the fork
        # before writing the new branch. The position key (chain, block, log index) then walks
        # the range in order and stops at the page's end, where ordering by id would sort the
        # whole range first (12.6 ms against 1.5 for 20 blocks of 1,000 events).
        ordered = stmt.order_by(col(LedgerEvent.block_number), col(LedgerEvent.log_index))
        rows = list(mirror.exec(ordered.limit(limit + 1)).all())
    else:
        rows = list(mirror.exec(stmt.order_by(col(LedgerEvent.id)).limit(limit + 1)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    items = [
        {
            "id": e.id,
            "block_number": e.block_number,
            "block_hash": e.block_hash,
            "tx_hash": e.tx_hash,
            "tx_index": e.tx_index,
            "log_index": e.log_index,
            "contract": e.contract,
            "address": e.address,
            "event": e.event,
            "args": e.args,
        }
        for e in rows
    ]
    return items, (rows[-1].id if more and rows else None)


def root_tree(*, rt: Runtime, mirror: Session, root_id: int) -> dict[str, Any]:
    """A root, its whole piece tree (children nested under parents) and its event history."""
    root = root_row(mirror, rt, root_id)
    if root is None:
        raise NotFound(f"no receivable {root_id}")
    pieces = mirror.exec(
        select(Piece)
        .where(Piece.chain_id == rt.chain_id, Piece.root_id == root_id)
        .order_by(col(Piece.piece_id))
    ).all()
    nodes = {p.piece_id: {**piece_out(p).model_dump(), "children": []} for p in pieces}
    top: list[dict[str, Any]] = []
    for p in pieces:
        if p.parent_id and p.parent_id in nodes:
            nodes[p.parent_id]["children"].append(nodes[p.piece_id])
        else:
            top.append(nodes[p.piece_id])
    ids = {str(i) for i in nodes}
    history = []
    for e in mirror.exec(
        select(LedgerEvent)
        .where(
            LedgerEvent.chain_id == rt.chain_id,
            LedgerEvent.contract == contract_name("receivables"),
        )
        .order_by(col(LedgerEvent.id))
    ).all():
        a = e.args
        touched = (
            a.get("rootId") == str(root_id)
            or any(str(a.get(k)) in ids for k in ("pieceId", "parentId", "id"))
            or any(str(x) in ids for x in a.get("ids", []) or [])
        )
        if touched:
            history.append(
                {
                    "block_number": e.block_number,
                    "tx_hash": e.tx_hash,
                    "log_index": e.log_index,
                    "event": e.event,
                    "args": a,
                }
            )
    return {"root": root_out(root).model_dump(), "pieces": top, "history": history}


def holdings_block(*, rt: Runtime, block: int | None) -> int:
    """The block a holdings report answers for: the mirror's cursor by default; a block the
    chain has not reached is refused (its holdings are not known yet), naming the head."""
    if block is None:
        return rt.mirror_cursor()
    head = rt.conn.w3.eth.block_number
    if block > head:
        raise InvalidInput(
            f"block {block} is beyond the chain's head (block {head})",
            code="BlockBeyondHead",
            details={"block": block, "head": head},
        )
    return block


def holdings_at(
    *,
    rt: Runtime,
    mirror: Session,
    block: int,
    holder: str | None = None,
    after: int = 0,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Who held which piece at the end of `block`; optionally one holder's, a page at a time
    (pieces after `after`, by piece id)."""
    # columns, not ORM instances: an export reads every holding at the block
    stmt = select(Holding.piece_id, Holding.holder, Holding.amount, Holding.from_block).where(
        Holding.chain_id == rt.chain_id,
        Holding.from_block <= block,
        (col(Holding.to_block).is_(None)) | (col(Holding.to_block) > block),
        col(Holding.piece_id) > after,
    )
    if holder is not None:
        stmt = stmt.where(Holding.holder == holder.lower())
    stmt = stmt.order_by(col(Holding.piece_id))
    if limit is not None:
        stmt = stmt.limit(limit)
    return [
        {"piece_id": piece_id, "holder": owner, "amount": int(amount), "from_block": from_block}
        for piece_id, owner, amount, from_block in mirror.exec(stmt)
    ]


#: Rows an unpaged export reads at a time: its memory stays flat however large the ledger.
EXPORT_PAGE = 5_000


def holdings_pages(
    *, rt: Runtime, mirror: Session, block: int, holder: str | None = None, after: int = 0
) -> Iterator[list[dict[str, Any]]]:
    """`holdings_at` without a limit, read `EXPORT_PAGE` rows at a time."""
    while True:
        rows = holdings_at(
            rt=rt, mirror=mirror, block=block, holder=holder, after=after, limit=EXPORT_PAGE
        )
        if rows:
            yield rows
        if len(rows) < EXPORT_PAGE:
            return
        after = rows[-1]["piece_id"]


def json_chunks(
    head: dict[str, Any], key: str, pages: Iterable[list[dict[str, Any]]]
) -> Iterator[str]:
    """The JSON of `{**head, key: [every page's rows]}`, a page at a time."""
    opening = json.dumps({**head, key: []}, separators=(",", ":"))
    yield opening.removesuffix("]}")
    first = True
    for rows in pages:
        if not rows:
            continue
        yield ("" if first else ",") + json.dumps(rows, separators=(",", ":"))[1:-1]
        first = False
    yield "]}"


def exposure(*, rt: Runtime, mirror: Session) -> dict[str, list[dict[str, Any]]]:
    """Outstanding per debtor; per financier, what its held pieces are still owed."""
    if mirror.get_bind().dialect.name == "postgresql":
        return _exposure_in_sql(rt=rt, mirror=mirror)
    return _exposure_in_python(rt=rt, mirror=mirror)


def _exposure_in_python(*, rt: Runtime, mirror: Session) -> dict[str, list[dict[str, Any]]]:
    """`exposure` summed in Python (SQLite cannot sum 256-bit amounts exactly)."""
    by_debtor: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in mirror.exec(
        select(Root).where(Root.chain_id == rt.chain_id, col(Root.status).in_(RootStatus.PAYABLE))
    ).all():
        by_debtor[r.debtor][0] += int(r.face_value) - int(r.repaid)
        by_debtor[r.debtor][1] += 1
    financiers = {
        m.address
        for m in mirror.exec(select(Member).where(Member.chain_id == rt.chain_id)).all()
        if m.roles & Role.FINANCIER
    }
    by_fin: defaultdict[str, defaultdict[str, int]] = defaultdict(lambda: defaultdict(int))
    held = mirror.exec(
        select(Piece).where(
            Piece.chain_id == rt.chain_id,
            Piece.status == int(PieceStatus.ACTIVE),
            col(Piece.holder).in_(financiers),
        )
    ).all()
    roots = {
        r.root_id: r
        for r in mirror.exec(
            select(Root).where(
                Root.chain_id == rt.chain_id, col(Root.root_id).in_({p.root_id for p in held})
            )
        ).all()
    }
    for p in held:
        root = roots.get(p.root_id)
        if root is None or (
            root.status not in RootStatus.PAYABLE and root.status != RootStatus.SETTLED
        ):
            continue
        owed = int(p.amount) - int(p.paid_out)
        if owed:
            by_fin[p.holder][root.debtor] += owed
    return {
        "by_debtor": [
            {"debtor": d, "outstanding": v[0], "receivables": v[1]}
            for d, v in sorted(by_debtor.items())
        ],
        "by_financier": [
            {"financier": f, "debtor": d, "exposure": v}
            for f, per in sorted(by_fin.items())
            for d, v in sorted(per.items())
        ],
    }


def _exposure_in_sql(*, rt: Runtime, mirror: Session) -> dict[str, list[dict[str, Any]]]:
    """`exposure` as two aggregate queries (PostgreSQL sums NUMERIC exactly)."""
    debtors = mirror.execute(
        sa_select(col(Root.debtor), func.sum(col(Root.face_value) - col(Root.repaid)), func.count())
        .where(col(Root.chain_id) == rt.chain_id, col(Root.status).in_(RootStatus.PAYABLE))
        .group_by(col(Root.debtor))
        .order_by(col(Root.debtor))
    ).all()
    owed = func.sum(col(Piece.amount) - col(Piece.paid_out))
    live = (*RootStatus.PAYABLE, int(RootStatus.SETTLED))
    financiers = mirror.execute(
        sa_select(col(Piece.holder), col(Root.debtor), owed)
        .join(
            Root,
            and_(
                col(Root.chain_id) == col(Piece.chain_id), col(Root.root_id) == col(Piece.root_id)
            ),
        )
        .join(
            Member,
            and_(
                col(Member.chain_id) == col(Piece.chain_id),
                col(Member.address) == col(Piece.holder),
            ),
        )
        .where(
            col(Piece.chain_id) == rt.chain_id,
            col(Piece.status) == int(PieceStatus.ACTIVE),
            col(Member.roles).op("&")(int(Role.FINANCIER)) != 0,
            col(Root.status).in_(live),
        )
        .group_by(col(Piece.holder), col(Root.debtor))
        .having(owed != 0)
        .order_by(col(Piece.holder), col(Root.debtor))
    ).all()
    return {
        "by_debtor": [
            {"debtor": d, "outstanding": int(total), "receivables": int(n)}
            for d, total, n in debtors
        ],
        "by_financier": [
            {"financier": f, "debtor": d, "exposure": int(v)} for f, d, v in financiers
        ],
    }


BUCKETS = ("current", "1-30", "31-90", ">90")


def bucket(days_overdue: int) -> str:
    if days_overdue <= 0:
        return "current"
    if days_overdue <= 30:
        return "1-30"
    if days_overdue <= 90:
        return "31-90"
    return ">90"


def aging(*, rt: Runtime, mirror: Session) -> dict[str, Any]:
    """Outstanding receivables by days past due (current, 1-30, 31-90, >90). A receivable past
    due but within the ledger's grace period is not overdue: `days_overdue` counts from the end
    of the grace period, and `status` is "overdue" exactly when `days_overdue` > 0, as the
    keeper will mark it (`status_on_ledger` says whether it has yet)."""
    now = chain_now(rt)
    status = ledger_status(mirror, rt)
    grace = int(status.grace_period) if status is not None else 0
    totals: dict[str, dict[str, Any]] = {
        b: {"bucket": b, "receivables": 0, "outstanding": 0} for b in BUCKETS
    }
    rows = []
    for r in mirror.exec(
        select(Root)
        .where(Root.chain_id == rt.chain_id, col(Root.status).in_(RootStatus.PAYABLE))
        .order_by(col(Root.root_id))
    ).all():
        outstanding = int(r.face_value) - int(r.repaid)
        if outstanding <= 0:
            continue
        past_due = _days_after(now, r.due_date)
        overdue = _days_after(now, r.due_date + grace)
        b = bucket(past_due)
        totals[b]["receivables"] += 1
        totals[b]["outstanding"] += outstanding
        on_ledger = RootStatus(r.status).name.lower()
        rows.append(
            {
                "root_id": r.root_id,
                "debtor": r.debtor,
                "due_date": r.due_date,
                "days_past_due": past_due,
                "in_grace_period": past_due > 0 and overdue == 0,
                "days_overdue": overdue,
                "bucket": b,
                "outstanding": outstanding,
                "status": "overdue" if overdue else on_ledger,
                "status_on_ledger": on_ledger,
            }
        )
    return {
        "as_of": now,
        "grace_period_seconds": grace,
        "buckets": list(totals.values()),
        "receivables": rows,
    }


def _days_after(now: int, moment: int) -> int:
    """Whole days (rounded up) from `moment` to `now`; 0 before it."""
    return -(-(now - moment) // DAY) if now > moment else 0


def reconciliation(*, rt: Runtime) -> dict[str, Any]:
    from indexer.reconcile import reconcile

    return reconcile(w3=rt.conn.w3, engine=rt.mirror, deployment=rt.deployment).as_dict()


def members(*, rt: Runtime, mirror: Session) -> list[dict[str, Any]]:
    return [
        {"address": m.address, "roles": "|".join(role_names(m.roles)), "status": m.status}
        for m in mirror.exec(select(Member).where(Member.chain_id == rt.chain_id)).all()
    ]


#: Each export's CSV columns, in order: an export with no rows still carries its header row.
COLUMNS: dict[str, tuple[str, ...]] = {
    "events": (
        "id",
        "block_number",
        "block_hash",
        "tx_hash",
        "tx_index",
        "log_index",
        "contract",
        "address",
        "event",
        "args",
    ),
    "history": ("block_number", "tx_hash", "log_index", "event", "args"),
    "holdings": ("piece_id", "holder", "amount", "from_block"),
    "exposure-debtor": ("debtor", "outstanding", "receivables"),
    "exposure-financier": ("financier", "debtor", "exposure"),
    "aging": (
        "root_id",
        "debtor",
        "due_date",
        "days_past_due",
        "in_grace_period",
        "days_overdue",
        "bucket",
        "outstanding",
        "status",
        "status_on_ledger",
    ),
    "reconciliation": ("kind", "key", "field", "mirror", "chain"),
    "alerts": ("id", "kind", "message", "details", "created_at"),
}


def to_csv(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    return "".join(csv_chunks([rows], columns))


def csv_chunks(pages: Iterable[list[dict[str, Any]]], columns: tuple[str, ...]) -> Iterator[str]:
    """CSV of every page's rows under the header `columns`, a page at a time; no rows at all is
    the header alone."""
    out = io.StringIO()
    csv.DictWriter(out, fieldnames=columns).writeheader()
    yield out.getvalue()
    for rows in pages:
        if not rows:
            continue
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
        for row in rows:
            writer.writerow({k: _cell(v) for k, v in row.items()})
        yield out.getvalue()


def _cell(v: Any) -> Any:
    if isinstance(v, dict | list):
        return json.dumps(v, sort_keys=True)
    return v
