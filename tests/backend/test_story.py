"""The whole story through HTTP on the embedded profile."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from backend.keeper import reconcile_and_alert, run_once
from chain.pricing import days_to_maturity, discount_price
from tests.backend.conftest import CASH, YUAN, Api, invoice


def test_invoice_to_settlement_through_the_api(api: Api) -> None:
    run_story(api, api.rt.conn.advance_time)


FACE = 1_000_000 * YUAN


@dataclass(frozen=True)
class Financed:
    """A confirmed receivable split between tier 1 and tier 2, tier 2's piece sold to the bank."""

    root: int
    kept: int
    passed: int
    due: int
    price: int


def originate_and_finance(api: Api) -> Financed:
    """Onboarded consortium → register, confirm, split, finance (the story's first half)."""
    a = api.addresses
    tier1, tier2, core, bank = (api.as_(n) for n in ("tier1", "tier2", "core", "bank"))

    # 1. the tier-1 supplier registers an invoice on the core enterprise
    r = tier1.post(
        "/v1/invoices?wait=true", json=invoice(a["tier1"], a["core"], "INV-2026-0001", FACE)
    )
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["transaction"]["status"] == "mined"
    assert body["transaction"]["visible_in_mirror"] is True
    root = body["invoice"]["root_id"]
    assert body["invoice"]["status"] == "registered"

    # 2. the core enterprise sees it awaiting confirmation and confirms it
    pending = core.get("/v1/payables", params={"status": "registered"}).json()
    assert [p["root_id"] for p in pending] == [root]
    r = core.post(f"/v1/payables/{root}/confirm?wait=true")
    assert r.status_code == 202, r.text
    credit = core.get("/v1/payables/credit").json()
    assert credit["credit_used"] == FACE and credit["outstanding_payables"] == FACE

    # 3. tier 1 keeps 600,000 and passes 400,000 to tier 2
    r = tier1.post(
        f"/v1/pieces/{root}/split?wait=true",
        json={
            "parts": [
                {"to": a["tier1"], "amount": 600_000 * YUAN},
                {"to": a["tier2"], "amount": 400_000 * YUAN},
            ]
        },
    )
    assert r.status_code == 202, r.text
    kept, passed = r.json()["result"]["child_ids"]
    assert [p["piece_id"] for p in tier2.get("/v1/pieces", params={"held": True}).json()] == [
        passed
    ]

    # 4. tier 2 asks for financing; the bank quotes and offers at 6 %
    r = tier2.post(
        "/v1/financing-requests",
        json={"piece_id": passed, "amount_wanted": 390_000 * YUAN, "max_rate_bps": 800},
    )
    assert r.status_code == 201, r.text
    requests = api.as_("bank").get("/v1/financing-requests").json()
    assert [fr["piece_id"] for fr in requests] == [passed]
    q = bank.get("/v1/quote", params={"piece_id": passed, "rate_bps": 600}).json()
    now = api.rt.conn.latest_timestamp()
    due = q["due_date"]
    assert q["price"] == discount_price(
        400_000 * YUAN, rate_bps=600, days=days_to_maturity(now=now, due_date=due)
    )
    r = bank.post("/v1/offers?wait=true", json={"piece_id": passed, "rate_bps": 600})
    assert r.status_code == 202, r.text
    offer = r.json()["result"]["offer_id"]
    price = bank.get(f"/v1/offers/{offer}").json()["price"]

    # 5. tier 2 accepts: piece and cash swap
    r = tier2.post(f"/v1/offers/{offer}/accept?wait=true")
    assert r.status_code == 202, r.text
    holdings = bank.get("/v1/holdings").json()
    assert [(h["piece"]["piece_id"], h["expected"]) for h in holdings] == [(passed, 400_000 * YUAN)]
    return Financed(root=root, kept=kept, passed=passed, due=due, price=price)


def run_story(api: Api, advance: Callable[[int], object]) -> None:
    """Onboarded consortium → register, confirm, split, finance, repay, keeper, reports."""
    a = api.addresses
    core, auditor = api.as_("core"), api.as_("auditor")
    f = originate_and_finance(api)
    root, kept, passed, due, price = f.root, f.kept, f.passed, f.due, f.price

    # 6. the core enterprise repays 300,000 early, the rest at maturity
    assert (
        core.post(
            f"/v1/payables/{root}/repay?wait=true", json={"amount": 300_000 * YUAN}
        ).status_code
        == 202
    )
    advance(due - api.rt.conn.latest_timestamp())
    r = core.post(f"/v1/payables/{root}/repay?wait=true", json={})
    assert r.status_code == 202, r.text
    assert r.json()["result"]["total_repaid"] == FACE

    # 7. the keeper distributes to every holder; the receivable is settled
    report = run_once(api.rt)
    assert report["settled"] == 1
    assert api.rt.indexer is not None
    assert api.rt.indexer.wait_for_block(api.rt.conn.w3.eth.block_number)

    # 8. the auditor's reports show the right figures
    tree = auditor.get(f"/v1/audit/roots/{root}").json()
    assert tree["root"]["status"] == "settled"
    assert [c["piece_id"] for c in tree["pieces"][0]["children"]] == [kept, passed]
    exposure = auditor.get("/v1/audit/exposure").json()
    assert exposure["by_debtor"] == [] and exposure["by_financier"] == []
    aging = auditor.get("/v1/audit/aging").json()
    assert all(b["outstanding"] == 0 for b in aging["buckets"])
    token = api.rt.contracts.token.functions
    assert token.balanceOf(a["bank"]).call() == CASH - price + 400_000 * YUAN
    assert token.balanceOf(a["tier1"]).call() == 600_000 * YUAN
    assert token.balanceOf(a["tier2"]).call() == price
    recon = auditor.get("/v1/audit/reconciliation").json()
    assert recon["ok"], recon["mismatches"]
    assert reconcile_and_alert(api.rt)
    csv_text = auditor.get("/v1/audit/events", params={"format": "csv", "limit": 500}).text
    assert csv_text.splitlines()[0].startswith("id,block_number")
    assert "ReceivableSettled" in csv_text
