"""A member's cash, statement, remittance advice and holdings, checked against the raw events.

The story: tokenise (register, confirm), split with odd amounts, sell a piece at a discount, an
offer refunded, partial repayments whose distribution leaves a rounding remainder, a claim, the
keeper's distribution, the final repayment; a burn. Every statement is then recomputed from
the raw `ledger_event` rows and agrees to the fen with the mirror's balances and the chain's.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

import pypdfium2 as pdfium
import pytest
from sqlmodel import Session, col, select

from backend.keeper import run_once
from backend.services.statement_pdf import money
from chain.pricing import entitlement
from indexer.models import CashBalance, LedgerEvent
from tests.backend.conftest import CASH, YUAN, Api, invoice

FACE = 1_000_000 * YUAN
KEPT = 600_000 * YUAN + 1  # odd amounts: a repayment does not divide evenly between them
PASSED = FACE - KEPT
FIRST = 333_333_33  # repaid early: tier 1's and the bank's shares each round down
SECOND = 111_111_11  # repaid at maturity, claimed by the bank, then distributed
BURNED = 1_000 * YUAN


@dataclass
class Story:
    root: int
    kept: int
    passed: int
    price: int
    refunded: int
    open_offer: int
    open_price: int
    before_repayment: int  # a block after the sale, before any repayment
    after_first: int  # the first repayment's block, before it is distributed
    distributed_first: int  # a block after the first repayment's distribution


def _mined(resp: Any) -> dict[str, Any]:
    assert resp.status_code == 202, resp.text
    body: dict[str, Any] = resp.json()
    assert body.get("transaction", body)["status"] == "mined", body
    return body


def _payable(api: Api, root: int) -> dict[str, Any]:
    found = [p for p in api.as_("core").get("/v1/payables").json() if p["root_id"] == root]
    assert len(found) == 1
    return found[0]


def _sync(api: Api) -> None:
    assert api.rt.indexer is not None
    assert api.rt.indexer.wait_for_block(api.rt.conn.w3.eth.block_number)


@pytest.fixture(scope="module")
def story(api: Api) -> Story:
    a = api.addresses
    tier1, tier2, core, bank, op = (
        api.as_(n) for n in ("tier1", "tier2", "core", "bank", "operator")
    )
    body = _mined(
        tier1.post("/v1/invoices?wait=true", json=invoice(a["tier1"], a["core"], "INV-ST-1", FACE))
    )
    root = body["invoice"]["root_id"]
    _mined(core.post(f"/v1/payables/{root}/confirm?wait=true"))
    split = _mined(
        tier1.post(
            f"/v1/pieces/{root}/split?wait=true",
            json={
                "parts": [
                    {"to": a["tier1"], "amount": KEPT},
                    {"to": a["tier2"], "amount": PASSED},
                ]
            },
        )
    )
    kept, passed = split["result"]["child_ids"]
    # tier 1 and tier 2 ask for financing (a financier sees a piece only then)
    for who, piece in ((tier1, kept), (tier2, passed)):
        r = who.post(
            "/v1/financing-requests",
            json={"piece_id": piece, "amount_wanted": 100 * YUAN, "max_rate_bps": 1000},
        )
        assert r.status_code == 201, r.text
    # an offer on tier 1's piece, withdrawn: escrowed, then refunded
    posted = _mined(bank.post("/v1/offers?wait=true", json={"piece_id": kept, "rate_bps": 900}))
    refunded = posted["result"]["offer_id"]
    _mined(bank.post(f"/v1/offers/{refunded}/cancel?wait=true"))
    # tier 2 sells its piece to the bank at a discount
    sold = _mined(bank.post("/v1/offers?wait=true", json={"piece_id": passed, "rate_bps": 600}))
    offer = sold["result"]["offer_id"]
    price = bank.get(f"/v1/offers/{offer}").json()["price"]
    _mined(tier2.post(f"/v1/offers/{offer}/accept?wait=true"))
    # an offer left open on tier 1's piece: its price stays in escrow for the bank
    left = _mined(bank.post("/v1/offers?wait=true", json={"piece_id": kept, "rate_bps": 700}))
    open_offer = left["result"]["offer_id"]
    open_price = bank.get(f"/v1/offers/{open_offer}").json()["price"]
    _mined(
        op.post("/v1/operator/cash/burn?wait=true", json={"account": a["tier2"], "amount": BURNED})
    )
    before = api.rt.conn.w3.eth.block_number
    _mined(core.post(f"/v1/payables/{root}/repay?wait=true", json={"amount": FIRST}))
    after_first = api.rt.conn.w3.eth.block_number
    due = _payable(api, root)["due_date"]
    api.rt.conn.advance_time(due - api.rt.conn.latest_timestamp())
    run_once(api.rt)  # distributes the first repayment (with its remainder left in escrow)
    _sync(api)
    distributed_first = api.rt.conn.w3.eth.block_number
    _mined(core.post(f"/v1/payables/{root}/repay?wait=true", json={"amount": SECOND}))
    _mined(bank.post(f"/v1/pieces/{passed}/claim?wait=true"))  # the bank pulls its share
    run_once(api.rt)  # pays tier 1 its share of the second repayment
    _sync(api)
    _mined(core.post(f"/v1/payables/{root}/repay?wait=true", json={}))  # the rest
    run_once(api.rt)
    _sync(api)
    assert _payable(api, root)["status"] == "settled"
    return Story(
        root,
        kept,
        passed,
        price,
        refunded,
        open_offer,
        open_price,
        before,
        after_first,
        distributed_first,
    )


def _raw_transfers(api: Api, address: str) -> list[tuple[int, int, int]]:
    """(block, log index, signed amount) of every cash Transfer touching `address`, read from
    the raw events table without the party table or the services."""
    me = address.lower()
    with Session(api.rt.mirror) as s:
        rows = s.exec(
            select(LedgerEvent)
            .where(
                LedgerEvent.chain_id == api.rt.chain_id,
                LedgerEvent.contract == "SettlementToken",
                LedgerEvent.event == "Transfer",
            )
            .order_by(col(LedgerEvent.block_number), col(LedgerEvent.log_index))
        ).all()
    out = []
    for e in rows:
        v = int(e.args["value"])
        if e.args["to"] == me:
            out.append((e.block_number, e.log_index, v))
        if e.args["from"] == me:
            out.append((e.block_number, e.log_index, -v))
    return out


def _mirror_balance(api: Api, address: str) -> int:
    with Session(api.rt.mirror) as s:
        row = s.exec(
            select(CashBalance.balance).where(
                CashBalance.chain_id == api.rt.chain_id, CashBalance.address == address.lower()
            )
        ).first()
    return int(row or 0)


PARTIES = ("core", "tier1", "tier2", "bank")


@pytest.mark.parametrize("who", PARTIES)
def test_statement_agrees_to_the_fen_with_raw_events_mirror_and_chain(
    story: Story, api: Api, who: str
) -> None:
    address = api.addresses[who]
    body = api.as_(who).get("/v1/me/statement").json()
    raw = _raw_transfers(api, address)
    assert [(m["block_number"], m["log_index"], m["amount"]) for m in body["movements"]] == raw
    assert body["opening_balance"] == 0
    running = body["opening_balance"]
    for m in body["movements"]:
        running += m["amount"]
        assert m["balance"] == running
    closing = body["closing_balance"]
    assert closing == body["opening_balance"] + sum(m["amount"] for m in body["movements"])
    assert closing == sum(v for _, _, v in raw)
    assert closing == _mirror_balance(api, address)
    assert closing == api.rt.contracts.token.functions.balanceOf(address).call()
    assert body["total_in"] - body["total_out"] == closing
    assert all(m["time"] and m["tx_hash"].startswith("0x") for m in body["movements"])


def test_each_movement_says_why_in_words(story: Story, api: Api) -> None:
    s = story
    a = api.addresses
    bank = api.as_("bank").get("/v1/me/statement").json()["movements"]
    reasons = [(m["kind"], m["reason"], m["amount"]) for m in bank]
    assert reasons[0] == (
        "minted",
        "minted: cash issued against a deposit at the settlement bank",
        CASH,
    )
    refund_price = -bank[1]["amount"]
    assert reasons[1] == (
        "offer_escrowed",
        f"offer {s.refunded} for piece {s.kept} escrowed",
        -refund_price,
    )
    assert reasons[2] == (
        "offer_refunded",
        f"offer {s.refunded} for piece {s.kept} refunded",
        refund_price,
    )
    offer = s.refunded + 1
    assert reasons[3] == (
        "purchase",
        f"purchase of piece {s.passed} (offer {offer}, escrowed when posted)",
        -s.price,
    )
    assert bank[3]["counterparty"] == a["tier2"]
    assert reasons[4][0] == "offer_escrowed" and reasons[4][2] == -s.open_price
    kinds = [k for k, _, _ in reasons[5:]]
    assert kinds == ["payout", "claim", "payout"]
    assert bank[5]["reason"] == f"payout for piece {s.passed} of receivable {s.root}"
    assert bank[6]["reason"] == f"claim: payout for piece {s.passed} of receivable {s.root}"
    assert all(m["counterparty"] == a["core"] for m in bank[5:])
    assert sum(m["amount"] for m in bank[5:]) == PASSED

    tier2 = api.as_("tier2").get("/v1/me/statement").json()["movements"]
    assert [(m["kind"], m["amount"]) for m in tier2] == [("sale", s.price), ("burned", -BURNED)]
    assert tier2[0]["reason"] == f"sale of piece {s.passed} (offer {offer})"
    assert tier2[0]["counterparty"] == a["bank"]

    core = api.as_("core").get("/v1/me/statement").json()["movements"]
    assert [m["kind"] for m in core] == ["minted", "repayment", "repayment", "repayment"]
    assert core[1]["reason"] == f"repayment of receivable {s.root}"
    assert [-m["amount"] for m in core[1:]] == [FIRST, SECOND, FACE - FIRST - SECOND]

    tier1 = api.as_("tier1").get("/v1/me/statement").json()["movements"]
    assert [m["kind"] for m in tier1] == ["payout", "payout", "payout"]
    assert sum(m["amount"] for m in tier1) == KEPT


def test_a_period_has_its_opening_balance_and_its_movements_only(story: Story, api: Api) -> None:
    bank = api.as_("bank")
    whole = bank.get("/v1/me/statement").json()
    start = story.before_repayment + 1
    part = bank.get("/v1/me/statement", params={"from_block": start}).json()
    earlier = [m for m in whole["movements"] if m["block_number"] < start]
    assert part["opening_balance"] == earlier[-1]["balance"]
    assert part["movements"] == [m for m in whole["movements"] if m["block_number"] >= start]
    assert part["closing_balance"] == whole["closing_balance"]
    # by dates: the whole story happened on the days from the first block's to the last's
    first_day = whole["movements"][0]["time"][:10]
    last_day = whole["movements"][-1]["time"][:10]
    by_day = bank.get("/v1/me/statement", params={"from": first_day, "to": last_day}).json()
    assert by_day["movements"] == whole["movements"]
    assert by_day["period"]["from_date"] == first_day
    empty = bank.get("/v1/me/statement", params={"from": "2000-01-01", "to": "2000-01-31"}).json()
    assert empty["movements"] == [] and empty["opening_balance"] == empty["closing_balance"] == 0


def test_statement_refusals(story: Story, api: Api) -> None:
    bank = api.as_("bank")
    head = api.rt.conn.w3.eth.block_number
    r = bank.get("/v1/me/statement", params={"to_block": head + 1000})
    assert r.status_code == 422 and r.json()["code"] == "BlockBeyondHead"
    r = bank.get("/v1/me/statement", params={"from": "2026-01-01", "from_block": 1})
    assert r.status_code == 422 and r.json()["code"] == "PeriodMixed"
    r = bank.get("/v1/me/statement", params={"from": "2026-02-01", "to": "2026-01-01"})
    assert r.status_code == 422 and r.json()["code"] == "PeriodReversed"
    assert "2026-01-01" in r.json()["message"]
    r = bank.get("/v1/me/statement", params={"from_block": 5, "to_block": 4})
    assert r.status_code == 422 and r.json()["code"] == "PeriodReversed"
    assert api.client.get("/v1/me/statement").status_code == 401


def test_statement_csv_holds_the_json_rows_and_a_header_when_empty(story: Story, api: Api) -> None:
    bank = api.as_("bank")
    body = bank.get("/v1/me/statement").json()
    r = bank.get("/v1/me/statement", params={"format": "csv"})
    assert r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"].startswith("attachment;")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [int(x["amount"]) for x in rows] == [m["amount"] for m in body["movements"]]
    assert [x["reason"] for x in rows] == [m["reason"] for m in body["movements"]]
    assert int(rows[-1]["balance"]) == body["closing_balance"]
    # counterparties by name in both forms (a mint's counterparty is no member: no name)
    assert [x["counterparty_name"] for x in rows] == [
        m.get("counterparty_name", "") for m in body["movements"]
    ]
    assert "East China Motors" in {x["counterparty_name"] for x in rows}
    negotiated = bank.get("/v1/me/statement", headers={"Accept": "text/csv"})
    assert negotiated.text == r.text
    empty = bank.get(
        "/v1/me/statement",
        params={"from": "2000-01-01", "to": "2000-01-02"},
        headers={"Accept": "text/csv"},
    )
    assert empty.text.splitlines() == [
        "block_number,log_index,time,tx_hash,kind,reason,counterparty,counterparty_name,"
        "root_id,piece_id,offer_id,amount,balance"
    ]


def _dark_pixels(page: Any, box: tuple[float, float, float, float]) -> int:
    """Pixels darker than mid-grey in `box` (fractions of the page: left, top, right, bottom)."""
    image = page.render(scale=1.5).to_pil().convert("L")
    w, h = image.size
    crop = image.crop((int(box[0] * w), int(box[1] * h), int(box[2] * w), int(box[3] * h)))
    return sum(crop.histogram()[:128])


def test_statement_pdf_renders_its_table_and_closing_balance(story: Story, api: Api) -> None:
    bank = api.as_("bank")
    body = bank.get("/v1/me/statement").json()
    r = bank.get("/v1/me/statement", headers={"Accept": "application/pdf"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF-")
    pdf = pdfium.PdfDocument(r.content)
    page = pdf[0]
    text = "".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    assert f"Closing balance: {money(body['closing_balance'])} CNY" in text
    assert f"Opening balance: {money(body['opening_balance'])} CNY" in text
    assert "账户对账单" in text  # the CJK title (STSong-Light) is in the file as text
    assert body["movements"][-1]["reason"] in text
    # the movements table (below the header block) is drawn: many dark pixels, where a blank
    # page has none
    assert _dark_pixels(page, (0.0, 0.3, 1.0, 0.9)) > 2_000
    blank = pdfium.PdfDocument.new()
    blank.new_page(842, 595)
    assert _dark_pixels(blank[0], (0.0, 0.3, 1.0, 0.9)) == 0


def test_remittance_advice_splits_each_payout_by_repayment(story: Story, api: Api) -> None:
    bank = api.as_("bank")
    body = bank.get("/v1/me/remittances").json()
    statement = bank.get("/v1/me/statement").json()["movements"]
    paid_moves = [m for m in statement if m["kind"] in ("payout", "claim")]
    assert [(p["tx_hash"], p["amount"]) for p in body["payouts"]] == [
        (m["tx_hash"], m["amount"]) for m in paid_moves
    ]
    assert [p["by"] for p in body["payouts"]] == ["distribution", "claim", "distribution"]
    assert body["total"] == PASSED
    # recomputed from the raw Repaid events: each repayment carries ent(after) - ent(before)
    with Session(api.rt.mirror) as s:
        repaid = [
            int(e.args["totalRepaid"])
            for e in s.exec(
                select(LedgerEvent)
                .where(LedgerEvent.chain_id == api.rt.chain_id, LedgerEvent.event == "Repaid")
                .order_by(col(LedgerEvent.block_number), col(LedgerEvent.log_index))
            )
        ]
    assert repaid == [FIRST, FIRST + SECOND, FACE]
    carried = [(c["total_repaid"], c["carried"]) for p in body["payouts"] for c in p["repayments"]]
    expected, before = [], 0
    for total in repaid:
        due = entitlement(PASSED, repaid=total, face_value=FACE)
        expected.append((total, due - before))
        before = due
    assert carried == expected
    for p in body["payouts"]:
        assert sum(c["carried"] for c in p["repayments"]) == p["amount"]
        assert p["share"] == f"{PASSED}/{FACE}" and p["debtor"] == api.addresses["core"]
    r = bank.get("/v1/me/remittances", params={"format": "csv"})
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [int(x["carried"]) for x in rows] == [c for _, c in expected]
    assert sum(int(x["carried"]) for x in rows) == PASSED
    assert {x["debtor_name"] for x in rows} == {"East China Motors"}
    empty = api.as_("core").get("/v1/me/remittances", params={"format": "csv"})
    assert empty.text.splitlines()[0].startswith("block_number,log_index,time,tx_hash,by,root_id")
    assert len(empty.text.splitlines()) == 1


def test_cash_now_and_as_of_a_block(story: Story, api: Api) -> None:
    s = story
    bank = api.as_("bank").get("/v1/me/cash").json()
    assert bank["balance"] == _mirror_balance(api, api.addresses["bank"])
    assert [o["offer_id"] for o in bank["offers"]] == [s.open_offer]
    assert bank["in_escrow"] == s.open_price
    assert bank["total"] == bank["balance"] + s.open_price
    core_then = api.as_("core").get("/v1/me/cash", params={"block": s.after_first}).json()
    assert core_then["block"] == s.after_first
    assert core_then["repayments"] == [
        {"root_id": s.root, "repaid": FIRST, "paid_out": 0, "in_escrow": FIRST}
    ]
    assert core_then["in_escrow"] == FIRST
    assert core_then["balance"] == CASH - FIRST
    # distributed: what rounding left of the first repayment waits in escrow for the rest
    core_mid = api.as_("core").get("/v1/me/cash", params={"block": s.distributed_first}).json()
    shares = entitlement(KEPT, repaid=FIRST, face_value=FACE) + entitlement(
        PASSED, repaid=FIRST, face_value=FACE
    )
    assert 0 < FIRST - shares < 2
    assert core_mid["repayments"] == [
        {"root_id": s.root, "repaid": FIRST, "paid_out": shares, "in_escrow": FIRST - shares}
    ]
    core_now = api.as_("core").get("/v1/me/cash").json()
    assert core_now["repayments"] == [] and core_now["in_escrow"] == 0
    assert core_now["balance"] == CASH - FACE
    bank_then = api.as_("bank").get("/v1/me/cash", params={"block": s.before_repayment}).json()
    assert bank_then["balance"] == CASH - s.price - s.open_price
    head = api.rt.conn.w3.eth.block_number
    r = api.as_("bank").get("/v1/me/cash", params={"block": head + 1})
    assert r.status_code == 422 and r.json()["code"] == "BlockBeyondHead"
    assert str(head) in r.json()["message"]


def test_holdings_show_price_paid_debtor_and_paid_out(story: Story, api: Api) -> None:
    mine = api.as_("bank").get("/v1/me/holdings").json()
    assert [h["piece"]["piece_id"] for h in mine] == [story.passed]
    h = mine[0]
    assert h["face_amount"] == PASSED and h["price_paid"] == story.price
    assert h["debtor"] == api.addresses["core"] and h["paid_out"] == PASSED
    assert h["days_to_maturity"] == 0 and h["expected"] == 0
    assert api.as_("bank").get("/v1/holdings").json() == mine
    tier1 = api.as_("tier1").get("/v1/me/holdings").json()
    assert [(x["piece"]["piece_id"], x["price_paid"]) for x in tier1] == [(story.kept, None)]
    assert api.as_("core").get("/v1/me/holdings").json() == []
