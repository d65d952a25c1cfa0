"""Pure derived-state logic: events applied, in chain order, to plain rows (dicts).

A `Ledger` holds the rows a batch may touch (the store prefetches them by `needs`), records
which ones changed, what append-only rows to insert, and — for blocks inside the reorg window —
the prior image of every row the first time a block changes it (the undo journal). No I/O here:
the same code runs on recorded logs in unit tests and inside the store's batch transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from chain.enums import MemberStatus, OfferStatus, PieceStatus, RootStatus
from indexer.decode import DecodedEvent
from indexer.errors import IndexerError

Row = dict[str, Any]
Key = int | str
TableKey = tuple[str, Key]

ZERO_ADDRESS = "0x" + "00" * 20
LEDGER_KEY = 0

# Mutable derived tables and their key column (the chain id is added by the store).
TABLE_KEYS: dict[str, str | None] = {
    "ledger_status": None,
    "member": "address",
    "root": "root_id",
    "piece": "piece_id",
    "offer": "offer_id",
    "cash_balance": "address",
}
APPEND_TABLES = ("repayment", "piece_payment", "distribution", "holding")


class Ledger:
    """The rows of derived state one batch works on, and what it changed."""

    def __init__(
        self,
        rows: dict[str, dict[Key, Row | None]] | None = None,
        *,
        strict: bool = False,
        journal_after: int | None = None,
    ) -> None:
        """`strict`: a row that was not prefetched is a bug, not an absent row.
        `journal_after`: record undo images for changes in blocks above this one."""
        self.rows: dict[str, dict[Key, Row | None]] = {t: {} for t in TABLE_KEYS}
        for table, tab in (rows or {}).items():
            self.rows[table].update(tab)
        self.strict = strict
        self.journal_after = journal_after
        self.dirty: dict[str, set[Key]] = {t: set() for t in TABLE_KEYS}
        self.appends: dict[str, list[Row]] = {t: [] for t in APPEND_TABLES}
        self.holding_closes: list[Row] = []
        self.journal: list[tuple[int, str, Key, Row | None]] = []
        self._open_holdings: dict[int, Row] = {}
        self._block = -1
        self._touched: set[TableKey] = set()

    # -- row access ------------------------------------------------------------------------

    def get(self, table: str, key: Key) -> Row | None:
        tab = self.rows[table]
        if key in tab:
            return tab[key]
        if self.strict:
            raise IndexerError(f"{table} {key!r} was not loaded for this batch")
        return None

    def edit(self, table: str, key: Key) -> Row:
        """The row to change in place; it must exist."""
        row = self.get(table, key)
        if row is None:
            raise IndexerError(f"block {self._block}: unknown {table} {key!r}")
        self._before_change(table, key, row)
        self.dirty[table].add(key)
        return row

    def put(self, table: str, key: Key, row: Row) -> None:
        """Create (or replace) a row."""
        self._before_change(table, key, self.get(table, key))
        self.rows[table][key] = row
        self.dirty[table].add(key)

    def changed_rows(self, table: str) -> list[Row]:
        tab = self.rows[table]
        return [r for k in self.dirty[table] if (r := tab.get(k)) is not None]

    def _before_change(self, table: str, key: Key, prior: Row | None) -> None:
        if self.journal_after is None or self._block <= self.journal_after:
            return
        tk = (table, key)
        if tk in self._touched:
            return
        self._touched.add(tk)
        self.journal.append((self._block, table, key, None if prior is None else dict(prior)))

    def start_event(self, ev: DecodedEvent) -> None:
        if ev.block_number != self._block:
            if ev.block_number < self._block:
                raise IndexerError(f"events out of order at block {ev.block_number}")
            self._block = ev.block_number
            self._touched.clear()

    # -- holdings history ------------------------------------------------------------------

    def open_holding(self, ev: DecodedEvent, piece_id: int, holder: str, amount: int) -> None:
        row = {
            "piece_id": piece_id,
            "from_block": ev.block_number,
            "from_log_index": ev.log_index,
            "holder": holder,
            "amount": amount,
            "to_block": None,
            "to_log_index": None,
        }
        self.appends["holding"].append(row)
        self._open_holdings[piece_id] = row

    def close_holding(self, ev: DecodedEvent, piece_id: int) -> None:
        row = self._open_holdings.pop(piece_id, None)
        if row is not None:
            row["to_block"] = ev.block_number
            row["to_log_index"] = ev.log_index
        else:
            self.holding_closes.append(
                {"piece_id": piece_id, "to_block": ev.block_number, "to_log_index": ev.log_index}
            )


Handler = Callable[[Ledger, DecodedEvent], None]
Needs = Callable[[DecodedEvent], Iterable[TableKey]]
HANDLERS: dict[tuple[str, str], Handler] = {}
NEEDS: dict[tuple[str, str], Needs] = {}


def _on(contract: str, event: str, needs: Needs) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        HANDLERS[(contract, event)] = fn
        NEEDS[(contract, event)] = needs
        return fn

    return register


def apply(ledger: Ledger, events: Iterable[DecodedEvent]) -> None:
    """Apply events in chain order; events without derived state only pass through."""
    for ev in events:
        ledger.start_event(ev)
        handler = HANDLERS.get((ev.contract, ev.event))
        if handler is not None:
            handler(ledger, ev)


def needs(events: Iterable[DecodedEvent]) -> dict[str, set[Key]]:
    """Which derived rows a batch of events may read or change."""
    out: dict[str, set[Key]] = {t: set() for t in TABLE_KEYS}
    for ev in events:
        fn = NEEDS.get((ev.contract, ev.event))
        if fn is not None:
            for table, key in fn(ev):
                out[table].add(key)
    return out


# -- MemberRegistry ----------------------------------------------------------------------------

REG = "MemberRegistry"


def _account(ev: DecodedEvent) -> Iterable[TableKey]:
    return (("member", ev.args["account"]),)


def _ledger_only(ev: DecodedEvent) -> Iterable[TableKey]:
    return (("ledger_status", LEDGER_KEY),)


def _status(ledger: Ledger, ev: DecodedEvent) -> Row:
    row = ledger.get("ledger_status", LEDGER_KEY)
    if row is None:
        row = {
            "paused": False,
            "token_ledger": None,
            "max_depth": 0,
            "min_piece_amount": 0,
            "grace_period": 0,
            "max_live_pieces": 0,
            "total_supply": 0,
            "updated_block": ev.block_number,
        }
        ledger.put("ledger_status", LEDGER_KEY, row)
        return row
    row = ledger.edit("ledger_status", LEDGER_KEY)
    row["updated_block"] = ev.block_number
    return row


@_on(REG, "MemberAdded", _account)
def member_added(ledger: Ledger, ev: DecodedEvent) -> None:
    a = ev.args
    ledger.put(
        "member",
        a["account"],
        {
            "address": a["account"],
            "roles": a["roles"],
            "status": int(MemberStatus.ACTIVE),
            "entity_id": a["entityId"],
            "credit_limit": a["creditLimit"],
            "credit_used": 0,
            "added_block": ev.block_number,
            "updated_block": ev.block_number,
        },
    )


def _member(ledger: Ledger, ev: DecodedEvent, address: str) -> Row:
    row = ledger.edit("member", address)
    row["updated_block"] = ev.block_number
    return row


@_on(REG, "MemberRolesChanged", _account)
def member_roles_changed(ledger: Ledger, ev: DecodedEvent) -> None:
    _member(ledger, ev, ev.args["account"])["roles"] = ev.args["roles"]


@_on(REG, "MemberStatusChanged", _account)
def member_status_changed(ledger: Ledger, ev: DecodedEvent) -> None:
    _member(ledger, ev, ev.args["account"])["status"] = ev.args["status"]


@_on(REG, "CreditLimitChanged", _account)
def credit_limit_changed(ledger: Ledger, ev: DecodedEvent) -> None:
    _member(ledger, ev, ev.args["account"])["credit_limit"] = ev.args["creditLimit"]


@_on(REG, "Paused", _ledger_only)
def paused(ledger: Ledger, ev: DecodedEvent) -> None:
    _status(ledger, ev)["paused"] = True


@_on(REG, "Unpaused", _ledger_only)
def unpaused(ledger: Ledger, ev: DecodedEvent) -> None:
    _status(ledger, ev)["paused"] = False


# -- SettlementToken ---------------------------------------------------------------------------

TOKEN = "SettlementToken"


def _transfer_needs(ev: DecodedEvent) -> Iterable[TableKey]:
    return (
        ("cash_balance", ev.args["from"]),
        ("cash_balance", ev.args["to"]),
        ("ledger_status", LEDGER_KEY),
    )


def _cash(ledger: Ledger, ev: DecodedEvent, address: str, delta: int) -> None:
    row = ledger.get("cash_balance", address)
    if row is None:
        row = {"address": address, "balance": 0, "updated_block": ev.block_number}
        ledger.put("cash_balance", address, row)
    else:
        row = ledger.edit("cash_balance", address)
    balance = row["balance"] + delta
    if balance < 0:
        raise IndexerError(f"block {ev.block_number}: cash of {address} would go negative")
    row["balance"] = balance
    row["updated_block"] = ev.block_number


@_on(TOKEN, "Transfer", _transfer_needs)
def transfer(ledger: Ledger, ev: DecodedEvent) -> None:
    a = ev.args
    value: int = a["value"]
    if a["from"] == ZERO_ADDRESS:
        _status(ledger, ev)["total_supply"] += value
    else:
        _cash(ledger, ev, a["from"], -value)
    if a["to"] == ZERO_ADDRESS:
        _status(ledger, ev)["total_supply"] -= value
    else:
        _cash(ledger, ev, a["to"], value)


@_on(TOKEN, "LedgerSet", _ledger_only)
def ledger_set(ledger: Ledger, ev: DecodedEvent) -> None:
    _status(ledger, ev)["token_ledger"] = ev.args["ledger"]


# -- Receivables -------------------------------------------------------------------------------

RCV = "Receivables"


def _root_and_piece(ev: DecodedEvent) -> Iterable[TableKey]:
    rid = ev.args["rootId"]
    return (("root", rid), ("piece", rid))


def _root_only(ev: DecodedEvent) -> Iterable[TableKey]:
    return (("root", ev.args["rootId"]),)


def _root(ledger: Ledger, ev: DecodedEvent, root_id: int) -> Row:
    row = ledger.edit("root", root_id)
    row["updated_block"] = ev.block_number
    return row


def _piece(ledger: Ledger, ev: DecodedEvent, piece_id: int) -> Row:
    row = ledger.edit("piece", piece_id)
    row["updated_block"] = ev.block_number
    return row


def _restart_pass(root: Row) -> None:
    if root["status"] in RootStatus.PAYABLE:
        root["cursor"] = root["head"]


@_on(RCV, "ReceivableRegistered", _root_and_piece)
def receivable_registered(ledger: Ledger, ev: DecodedEvent) -> None:
    a = ev.args
    rid: int = a["rootId"]
    ledger.put(
        "root",
        rid,
        {
            "root_id": rid,
            "debtor": a["debtor"],
            "supplier": a["supplier"],
            "face_value": a["faceValue"],
            "due_date": a["dueDate"],
            "invoice_hash": a["invoiceHash"],
            "invoice_key": a["invoiceKey"],
            "status": int(RootStatus.REGISTERED),
            "frozen": False,
            "head": rid,
            "cursor": 0,
            "live_pieces": 1,
            "repaid": 0,
            "distributed": 0,
            "registered_block": ev.block_number,
            "updated_block": ev.block_number,
        },
    )
    ledger.put(
        "piece",
        rid,
        {
            "piece_id": rid,
            "root_id": rid,
            "parent_id": None,
            "depth": 0,
            "holder": a["supplier"],
            "amount": a["faceValue"],
            "status": int(PieceStatus.PENDING),
            "frozen": False,
            "paid_out": 0,
            "next_id": 0,
            "created_block": ev.block_number,
            "updated_block": ev.block_number,
        },
    )


@_on(
    RCV,
    "ReceivableConfirmed",
    lambda ev: (*_root_and_piece(ev), ("member", ev.args["debtor"])),
)
def receivable_confirmed(ledger: Ledger, ev: DecodedEvent) -> None:
    rid = ev.args["rootId"]
    _root(ledger, ev, rid)["status"] = int(RootStatus.CONFIRMED)
    _piece(ledger, ev, rid)["status"] = int(PieceStatus.ACTIVE)
    _member(ledger, ev, ev.args["debtor"])["credit_used"] = ev.args["creditUsed"]


def _void(ledger: Ledger, ev: DecodedEvent, status: RootStatus) -> None:
    rid = ev.args["rootId"]
    root = _root(ledger, ev, rid)
    root["status"] = int(status)
    root["live_pieces"] = 0
    _piece(ledger, ev, rid)["status"] = int(PieceStatus.VOID)


def _voided(status: RootStatus) -> Handler:
    def handler(ledger: Ledger, ev: DecodedEvent) -> None:
        _void(ledger, ev, status)

    return handler


_on(RCV, "ReceivableRejected", _root_and_piece)(_voided(RootStatus.REJECTED))
_on(RCV, "ReceivableCancelled", _root_and_piece)(_voided(RootStatus.CANCELLED))


@_on(
    RCV,
    "ReceivableRefused",
    lambda ev: (*_root_and_piece(ev), ("member", ev.args["debtor"])),
)
def receivable_refused(ledger: Ledger, ev: DecodedEvent) -> None:
    """The supplier refused a payable issued to it: voided, the debtor's credit released."""
    _void(ledger, ev, RootStatus.REFUSED)
    _member(ledger, ev, ev.args["debtor"])["credit_used"] = ev.args["creditUsed"]


def _split_needs(ev: DecodedEvent) -> Iterable[TableKey]:
    yield ("root", ev.args["rootId"])
    yield ("piece", ev.args["parentId"])
    for cid in ev.args["childIds"]:
        yield ("piece", cid)


@_on(RCV, "PieceSplit", _split_needs)
def piece_split(ledger: Ledger, ev: DecodedEvent) -> None:
    a = ev.args
    parent = _piece(ledger, ev, a["parentId"])
    parent["status"] = int(PieceStatus.SPLIT)
    nxt: int = parent["next_id"]
    # Children are spliced right after the parent, newest first (as `Receivables.split`).
    for cid, holder, amount in zip(a["childIds"], a["holders"], a["amounts"], strict=True):
        ledger.put(
            "piece",
            cid,
            {
                "piece_id": cid,
                "root_id": a["rootId"],
                "parent_id": a["parentId"],
                "depth": parent["depth"] + 1,
                "holder": holder,
                "amount": amount,
                "status": int(PieceStatus.ACTIVE),
                "frozen": False,
                "paid_out": 0,
                "next_id": nxt,
                "created_block": ev.block_number,
                "updated_block": ev.block_number,
            },
        )
        nxt = cid
    parent["next_id"] = nxt
    _root(ledger, ev, a["rootId"])["live_pieces"] += len(a["childIds"]) - 1


def _moves(ledger: Ledger, ev: DecodedEvent, ids: list[int], values: list[int]) -> None:
    a = ev.args
    src, dst = a["from"], a["to"]
    for pid, value in zip(ids, values, strict=True):
        if src != ZERO_ADDRESS:
            ledger.close_holding(ev, pid)
        if dst != ZERO_ADDRESS:
            ledger.open_holding(ev, pid, dst, value)
        if src != ZERO_ADDRESS and dst != ZERO_ADDRESS:
            _piece(ledger, ev, pid)["holder"] = dst


@_on(RCV, "TransferSingle", lambda ev: (("piece", ev.args["id"]),))
def transfer_single(ledger: Ledger, ev: DecodedEvent) -> None:
    _moves(ledger, ev, [ev.args["id"]], [ev.args["value"]])


@_on(RCV, "TransferBatch", lambda ev: (("piece", i) for i in ev.args["ids"]))
def transfer_batch(ledger: Ledger, ev: DecodedEvent) -> None:
    _moves(ledger, ev, ev.args["ids"], ev.args["values"])


@_on(RCV, "OfferPosted", lambda ev: (("offer", ev.args["offerId"]),))
def offer_posted(ledger: Ledger, ev: DecodedEvent) -> None:
    a = ev.args
    ledger.put(
        "offer",
        a["offerId"],
        {
            "offer_id": a["offerId"],
            "piece_id": a["pieceId"],
            "financier": a["financier"],
            "price": a["price"],
            "expiry": a["expiry"],
            "status": int(OfferStatus.OPEN),
            "seller": None,
            "expired": None,
            "posted_block": ev.block_number,
            "closed_block": None,
        },
    )


@_on(RCV, "OfferAccepted", lambda ev: (("offer", ev.args["offerId"]),))
def offer_accepted(ledger: Ledger, ev: DecodedEvent) -> None:
    offer = ledger.edit("offer", ev.args["offerId"])
    offer["status"] = int(OfferStatus.ACCEPTED)
    offer["seller"] = ev.args["seller"]
    offer["closed_block"] = ev.block_number


@_on(RCV, "OfferCancelled", lambda ev: (("offer", ev.args["offerId"]),))
def offer_cancelled(ledger: Ledger, ev: DecodedEvent) -> None:
    offer = ledger.edit("offer", ev.args["offerId"])
    offer["status"] = int(OfferStatus.CANCELLED)
    offer["expired"] = ev.args["expired"]
    offer["closed_block"] = ev.block_number


def _event_row(ev: DecodedEvent) -> Row:
    return {"block_number": ev.block_number, "log_index": ev.log_index, "tx_hash": ev.tx_hash}


@_on(RCV, "Repaid", lambda ev: (("root", ev.args["rootId"]), ("member", ev.args["debtor"])))
def repaid(ledger: Ledger, ev: DecodedEvent) -> None:
    a = ev.args
    root = _root(ledger, ev, a["rootId"])
    root["repaid"] = a["totalRepaid"]
    root["cursor"] = root["head"]
    _member(ledger, ev, a["debtor"])["credit_used"] = a["creditUsed"]
    ledger.appends["repayment"].append(
        {
            **_event_row(ev),
            "root_id": a["rootId"],
            "debtor": a["debtor"],
            "amount": a["amount"],
            "total_repaid": a["totalRepaid"],
            "credit_used": a["creditUsed"],
        }
    )


@_on(RCV, "PiecePaid", lambda ev: (("piece", ev.args["pieceId"]), ("root", ev.args["rootId"])))
def piece_paid(ledger: Ledger, ev: DecodedEvent) -> None:
    a = ev.args
    _piece(ledger, ev, a["pieceId"])["paid_out"] = a["paidOut"]
    _root(ledger, ev, a["rootId"])["distributed"] += a["amount"]
    ledger.appends["piece_payment"].append(
        {
            **_event_row(ev),
            "piece_id": a["pieceId"],
            "root_id": a["rootId"],
            "holder": a["holder"],
            "amount": a["amount"],
            "paid_out": a["paidOut"],
        }
    )


@_on(RCV, "Distributed", _root_only)
def distributed(ledger: Ledger, ev: DecodedEvent) -> None:
    a = ev.args
    _root(ledger, ev, a["rootId"])["cursor"] = a["nextCursor"]
    ledger.appends["distribution"].append(
        {
            **_event_row(ev),
            "root_id": a["rootId"],
            "pieces_visited": a["piecesVisited"],
            "amount": a["amount"],
            "next_cursor": a["nextCursor"],
        }
    )


@_on(RCV, "ReceivableSettled", _root_only)
def receivable_settled(ledger: Ledger, ev: DecodedEvent) -> None:
    root = _root(ledger, ev, ev.args["rootId"])
    root["status"] = int(RootStatus.SETTLED)
    root["cursor"] = 0


@_on(RCV, "InvoiceKeyReclaimed", _root_and_piece)
def invoice_key_reclaimed(ledger: Ledger, ev: DecodedEvent) -> None:
    """A seller proved the key its own: a pending root is voided, a confirmed one loses it."""
    if ev.args["voided"]:
        _void(ledger, ev, RootStatus.CANCELLED)
    else:
        _root(ledger, ev, ev.args["rootId"])["invoice_key"] = "0x" + "00" * 32


@_on(RCV, "ReceivableClosed", _root_only)
def receivable_closed(ledger: Ledger, ev: DecodedEvent) -> None:
    """The operator ended an unpaid root; the rounding remainder left escrow (as a cash
    Transfer) and counts as distributed, so a closed root's repaid equals its distributed."""
    root = _root(ledger, ev, ev.args["rootId"])
    root["status"] = int(RootStatus.CLOSED)
    root["distributed"] += ev.args["remainder"]
    root["cursor"] = 0


@_on(RCV, "ReceivableOverdue", _root_only)
def receivable_overdue(ledger: Ledger, ev: DecodedEvent) -> None:
    _root(ledger, ev, ev.args["rootId"])["status"] = int(RootStatus.OVERDUE)


@_on(RCV, "RootFrozen", _root_only)
def root_frozen(ledger: Ledger, ev: DecodedEvent) -> None:
    _root(ledger, ev, ev.args["rootId"])["frozen"] = True


@_on(RCV, "RootUnfrozen", _root_only)
def root_unfrozen(ledger: Ledger, ev: DecodedEvent) -> None:
    root = _root(ledger, ev, ev.args["rootId"])
    root["frozen"] = False
    _restart_pass(root)


def _piece_and_root(ev: DecodedEvent) -> Iterable[TableKey]:
    return (("piece", ev.args["pieceId"]), ("root", ev.args["rootId"]))


@_on(RCV, "PieceFrozen", _piece_and_root)
def piece_frozen(ledger: Ledger, ev: DecodedEvent) -> None:
    _piece(ledger, ev, ev.args["pieceId"])["frozen"] = True


@_on(RCV, "PieceUnfrozen", _piece_and_root)
def piece_unfrozen(ledger: Ledger, ev: DecodedEvent) -> None:
    _piece(ledger, ev, ev.args["pieceId"])["frozen"] = False
    _restart_pass(_root(ledger, ev, ev.args["rootId"]))


@_on(RCV, "LimitsChanged", _ledger_only)
def limits_changed(ledger: Ledger, ev: DecodedEvent) -> None:
    status = _status(ledger, ev)
    status["max_depth"] = ev.args["maxDepth"]
    status["min_piece_amount"] = ev.args["minPieceAmount"]
    status["grace_period"] = ev.args["gracePeriod"]
    status["max_live_pieces"] = ev.args["maxLivePieces"]
