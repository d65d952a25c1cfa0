"""Pairing each cash Transfer with the event that explains it (pure, on rows as the mirror
gives them): the cases the story on chain does not reach."""

from __future__ import annotations

from backend.services.cash import LedgerRow, Movement, pair, words
from chain.enums import OfferStatus

ME = "0x" + "aa" * 20
OTHER = "0x" + "bb" * 20
DEBTOR = "0x" + "dd" * 20
ESCROW = "0x" + "ee" * 20
ZERO = "0x" + "00" * 20


def row(log: int, event: str, tx: str = "0x01", **kw: object) -> LedgerRow:
    fields: dict[str, object] = {
        "block_number": 7,
        "log_index": log,
        "block_hash": "0xb7",
        "tx_hash": tx,
        "event": event,
        "sender": None,
        "recipient": None,
        "amount": None,
        "piece_id": None,
        "root_id": None,
        "offer_id": None,
        "financier": None,
        "expired": None,
        "debtor": None,
        "offer_status": None,
        "offer_closed_block": None,
        "offer_seller": None,
    }
    fields.update(kw)
    return LedgerRow(**fields)  # type: ignore[arg-type]


def moves(*rows: LedgerRow, passes: set[tuple[int, int]] | None = None) -> list[Movement]:
    out = pair(rows, me=ME, escrow=ESCROW, passes=passes or set(), to_block=10)
    for m in out:
        m.reason = words(m)
    return out


def test_a_plain_transfer_beside_an_offer_in_one_transaction_stays_a_transfer() -> None:
    got = moves(
        row(0, "Transfer", sender=ME, recipient=OTHER, amount="500"),
        row(1, "Transfer", sender=ME, recipient=ESCROW, amount="900"),
        row(2, "OfferPosted", amount="900", piece_id="4", offer_id=3),
    )
    assert [(m.kind, m.amount, m.counterparty) for m in got] == [
        ("transfer", -500, OTHER),
        ("offer_escrowed", -900, ESCROW),
    ]
    assert got[0].reason == "transfer to another member"
    assert got[1].reason == "offer 3 for piece 4 escrowed"


def test_each_payout_of_a_pass_pairs_with_its_own_piece() -> None:
    got = moves(
        row(0, "Transfer", sender=ESCROW, recipient=ME, amount="10"),
        row(1, "PiecePaid", amount="10", piece_id="5", root_id=1, debtor=DEBTOR),
        row(2, "Transfer", sender=ESCROW, recipient=ME, amount="20"),
        row(3, "PiecePaid", amount="20", piece_id="6", root_id=1, debtor=DEBTOR),
        passes={(7, 1), (7, 3)},
    )
    assert [(m.kind, m.piece_id, m.amount, m.counterparty) for m in got] == [
        ("payout", 5, 10, DEBTOR),
        ("payout", 6, 20, DEBTOR),
    ]


def test_remainder_refund_on_expiry_mint_and_burn() -> None:
    got = moves(
        row(0, "Transfer", tx="0x02", sender=ZERO, recipient=ME, amount="1000"),
        row(0, "Transfer", tx="0x03", sender=ESCROW, recipient=ME, amount="3"),
        row(1, "ReceivableClosed", tx="0x03", amount="3", root_id=9, debtor=DEBTOR),
        row(0, "Transfer", tx="0x04", sender=ESCROW, recipient=ME, amount="70"),
        row(1, "OfferCancelled", tx="0x04", amount="70", piece_id="2", offer_id=8, expired="true"),
        row(0, "Transfer", tx="0x05", sender=ME, recipient=ZERO, amount="1"),
    )
    assert [m.reason for m in got] == [
        "minted: cash issued against a deposit at the settlement bank",
        "remainder of receivable 9 paid on close",
        "offer 8 for piece 2 refunded on expiry",
        "burned: cash redeemed at the settlement bank",
    ]
    assert got[1].counterparty == DEBTOR


def test_an_escrow_accepted_after_the_period_is_still_an_escrow() -> None:
    posted: dict[str, object] = {
        "amount": "900",
        "piece_id": "4",
        "offer_id": 3,
        "offer_seller": OTHER,
    }
    escrow = row(0, "Transfer", sender=ME, recipient=ESCROW, amount="900")
    later = moves(
        escrow,
        row(
            1,
            "OfferPosted",
            offer_status=int(OfferStatus.ACCEPTED),
            offer_closed_block=11,
            **posted,
        ),
    )
    bought = moves(
        escrow,
        row(
            1, "OfferPosted", offer_status=int(OfferStatus.ACCEPTED), offer_closed_block=9, **posted
        ),
    )
    assert (later[0].kind, later[0].counterparty) == ("offer_escrowed", ESCROW)
    assert (bought[0].kind, bought[0].counterparty) == ("purchase", OTHER)
    assert bought[0].reason == "purchase of piece 4 (offer 3, escrowed when posted)"


def test_a_reason_without_a_transfer_of_the_member_moves_nothing() -> None:
    # the financier sees OfferAccepted (it is named) but its cash moved when it posted
    assert moves(row(1, "OfferAccepted", amount="900", piece_id="4", offer_id=3)) == []
