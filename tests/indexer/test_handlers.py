"""Derived state from recorded logs, with plain dicts (no chain, no database)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chain.enums import MemberStatus, OfferStatus, PieceStatus, RootStatus
from indexer.decode import DecodedEvent, ledger_decoder
from indexer.errors import IndexerError
from indexer.handlers import LEDGER_KEY, Ledger, apply, needs

DATA = json.loads((Path(__file__).parent / "data" / "lifecycle.json").read_text())
M = DATA["members"]
IDS = DATA["ids"]


@pytest.fixture(scope="module")
def events() -> list[DecodedEvent]:
    dec = ledger_decoder(
        registry=DATA["registry"], token=DATA["token"], receivables=DATA["receivables"]
    )
    return dec.decode_all(DATA["logs"])


@pytest.fixture(scope="module")
def ledger(events: list[DecodedEvent]) -> Ledger:
    ledger = Ledger()
    apply(ledger, events)
    return ledger


def test_roots_end_in_their_lifecycle_states(ledger: Ledger) -> None:
    roots = ledger.rows["root"]
    assert roots[IDS["r1"]]["status"] == RootStatus.SETTLED
    assert roots[IDS["r1"]]["repaid"] == roots[IDS["r1"]]["distributed"] == 1_000_000
    assert roots[IDS["r1"]]["cursor"] == 0
    assert roots[IDS["r2"]]["status"] == RootStatus.REJECTED
    assert roots[IDS["r3"]]["status"] == RootStatus.CANCELLED
    assert roots[IDS["r4"]]["status"] == RootStatus.CLOSED
    assert roots[IDS["r4"]]["repaid"] == roots[IDS["r4"]]["distributed"] == 200_000
    assert roots[IDS["r5"]]["status"] == RootStatus.CONFIRMED
    assert roots[IDS["r5"]]["debtor"] == M["core2"]
    assert roots[IDS["r6"]]["status"] == RootStatus.REFUSED
    assert [roots[IDS[r]]["live_pieces"] for r in ("r1", "r2", "r4", "r6")] == [2, 0, 1, 0]


def test_pieces_record_parent_depth_holder_and_payouts(ledger: Ledger) -> None:
    p = ledger.rows["piece"]
    assert p[IDS["r1"]]["status"] == PieceStatus.SPLIT
    assert p[IDS["r1"]]["next_id"] == IDS["c2"]
    assert p[IDS["c2"]]["next_id"] == IDS["c1"]
    c1, c2 = p[IDS["c1"]], p[IDS["c2"]]
    assert (c1["parent_id"], c1["depth"], c1["holder"], c1["amount"]) == (
        IDS["r1"], 1, M["supplier3"], 600_000,
    )  # fmt: skip
    assert (c2["holder"], c2["paid_out"], c2["status"]) == (M["bank"], 400_000, PieceStatus.ACTIVE)
    assert p[IDS["r2"]]["status"] == PieceStatus.VOID
    assert p[IDS["r6"]]["status"] == PieceStatus.VOID
    assert p[IDS["r4"]]["holder"] == M["supplier2"] and p[IDS["r4"]]["frozen"] is False


def test_offers_members_and_cash(ledger: Ledger) -> None:
    o = ledger.rows["offer"]
    assert (
        o[IDS["o1"]]["status"] == OfferStatus.ACCEPTED and o[IDS["o1"]]["seller"] == M["supplier2"]
    )
    assert o[IDS["o2"]]["status"] == OfferStatus.CANCELLED and o[IDS["o2"]]["expired"] is False
    members = ledger.rows["member"]
    assert members[M["suspended"]]["status"] == MemberStatus.ACTIVE
    assert members[M["core"]]["credit_used"] == 300_000  # r4 still owes 300k; r1 fully repaid
    assert members[M["core2"]]["credit_limit"] == 5 * 10**11
    assert members[M["core2"]]["credit_used"] == 300_000  # r5; the refused r6 released its 7k
    status = ledger.rows["ledger_status"][LEDGER_KEY]
    assert status is not None and status["paused"] is False
    assert (status["max_depth"], status["max_live_pieces"]) == (4, 50)
    cash = ledger.rows["cash_balance"]
    total = sum(r["balance"] for r in cash.values() if r is not None)
    assert total == status["total_supply"] == 6 * 10**11 - 345
    escrow = cash[DATA["receivables"]]
    assert escrow is not None and escrow["balance"] == 0


def test_holding_history_closes_on_transfer_and_split(ledger: Ledger) -> None:
    hist = [h for h in ledger.appends["holding"] if h["piece_id"] == IDS["c2"]]
    assert [(h["holder"], h["to_block"] is None) for h in hist] == [
        (M["supplier2"], False),
        (M["bank"], True),
    ]
    root_piece = [h for h in ledger.appends["holding"] if h["piece_id"] == IDS["r1"]]
    assert len(root_piece) == 1 and root_piece[0]["to_block"] is not None


def test_append_rows_for_repayments_payments_and_distributions(ledger: Ledger) -> None:
    assert [r["amount"] for r in ledger.appends["repayment"]] == [400_000, 600_000, 200_000]
    assert sorted(r["amount"] for r in ledger.appends["piece_payment"]) == [
        200_000,
        400_000,
        600_000,
    ]
    assert [d["pieces_visited"] for d in ledger.appends["distribution"]] == [1, 2, 1]


def _event(name: str, block: int, **args: object) -> DecodedEvent:
    return DecodedEvent(
        block_number=block,
        block_hash="0x" + "ab" * 32,
        tx_hash="0x" + "cd" * 32,
        tx_index=0,
        log_index=0,
        address=DATA["receivables"],
        contract="Receivables",
        event=name,
        args=dict(args),
    )


def test_close_counts_the_swept_remainder_as_distributed() -> None:
    root = {"root_id": 9, "status": int(RootStatus.OVERDUE), "distributed": 99, "cursor": 0}
    ledger = Ledger({"root": {9: root}}, strict=True)
    closed = _event(
        "ReceivableClosed",
        5,
        rootId=9,
        operator=M["operator"],
        outstanding=201,
        remainder=1,
        remainderTo=M["supplier"],
    )
    assert dict(needs([closed])) == {**{t: set() for t in needs([])}, "root": {9}}
    apply(ledger, [closed])
    assert (root["status"], root["distributed"]) == (RootStatus.CLOSED, 100)


@pytest.mark.parametrize("voided", [True, False])
def test_a_reclaimed_invoice_key_voids_a_pending_root_or_leaves_a_confirmed_one_keyless(
    voided: bool,
) -> None:
    status = RootStatus.REGISTERED if voided else RootStatus.CONFIRMED
    root = {"root_id": 9, "status": int(status), "live_pieces": 1, "invoice_key": "0x" + "11" * 32}
    piece = {"piece_id": 9, "status": int(PieceStatus.PENDING if voided else PieceStatus.ACTIVE)}
    ledger = Ledger({"root": {9: root}, "piece": {9: piece}}, strict=True)
    ev = _event(
        "InvoiceKeyReclaimed",
        5,
        rootId=9,
        invoiceKey="0x" + "11" * 32,
        seller=M["supplier"],
        voided=voided,
    )
    apply(ledger, [ev])
    if voided:
        assert (root["status"], root["live_pieces"], piece["status"]) == (
            RootStatus.CANCELLED,
            0,
            PieceStatus.VOID,
        )
    else:
        assert (root["status"], root["invoice_key"]) == (RootStatus.CONFIRMED, "0x" + "00" * 32)


def test_a_split_adds_its_children_less_the_parent_to_the_live_pieces() -> None:
    parent = {"piece_id": 9, "status": int(PieceStatus.ACTIVE), "next_id": 0, "depth": 0}
    root = {"root_id": 9, "status": int(RootStatus.CONFIRMED), "live_pieces": 1}
    rows = {"root": {9: root}, "piece": {9: parent, 10: None, 11: None, 12: None}}
    ledger = Ledger(rows, strict=True)
    split = _event(
        "PieceSplit",
        5,
        parentId=9,
        rootId=9,
        childIds=[10, 11, 12],
        holders=[M["supplier"]] * 3,
        amounts=[100, 100, 101],
    )
    apply(ledger, [split])
    assert root["live_pieces"] == 3
    assert ledger.rows["piece"][12]["next_id"] == 11


def test_journal_keeps_the_prior_image_once_per_row_and_block(events: list[DecodedEvent]) -> None:
    ledger = Ledger(journal_after=0)
    apply(ledger, events)
    seen = [(block, table, key) for block, table, key, _ in ledger.journal]
    assert len(seen) == len(set(seen))
    created = next(j for j in ledger.journal if j[1] == "root" and j[2] == IDS["r1"])
    assert created[3] is None  # the root did not exist before its registration block
    confirm = [j for j in ledger.journal if j[1] == "root" and j[2] == IDS["r1"]][1]
    assert confirm[3] is not None and confirm[3]["status"] == RootStatus.REGISTERED


def test_needs_lists_every_row_the_handlers_touch(events: list[DecodedEvent]) -> None:
    wanted = needs(events)
    rows = {t: dict.fromkeys(keys) for t, keys in wanted.items()}
    ledger = Ledger(rows, strict=True)  # strict: a row missing from `needs` raises
    apply(ledger, events)


def test_strict_ledger_refuses_rows_it_was_not_given(events: list[DecodedEvent]) -> None:
    with pytest.raises(IndexerError, match="not loaded"):
        apply(Ledger(strict=True), events)
