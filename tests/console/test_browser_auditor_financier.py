"""A bank and an auditor in the browser: the bank answers a supplier's financing request with
an offer from its page, the supplier accepts (over the HTTP API: the supplier's pages are
another's), the bank sees the piece in its portfolio and maturity ladder, and the auditor
follows the receivable's provenance tree to the bank as the piece's holder, then explores the
ledger's events and exports them. And a bank changing and withdrawing an offer."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import expect

from backend.tools.client import invoice_body
from tests.console.conftest import ConsoleServer, Party, screenshot

YUAN = 100
BANK = "Pujiang Commercial Bank"  # the demo bank's name in the directory
TABLET = 820  # an iPad Air held upright


def _ok(resp: httpx.Response, status: int = 202) -> Any:
    assert resp.status_code == status, resp.text
    return resp.json()


def first_cell(n: int) -> re.Pattern[str]:
    """A row whose first cell is #n."""
    return re.compile(rf"^\s*#{n}(?!\d)")


def number(n: int) -> re.Pattern[str]:
    """#n and not #n0."""
    return re.compile(rf"#{n}(?!\d)")


def financing_asked(server: ConsoleServer, *, face_yuan: int, passed_yuan: int) -> dict[str, int]:
    """Over the HTTP API: tier 1 registers an invoice on the core enterprise, which confirms it;
    tier 1 passes a piece to tier 2, which asks for financing on it at 8 % at most."""
    tier1, tier2 = server.address("tier1"), server.address("tier2")
    number = f"INV-PICTURES-{secrets.token_hex(3).upper()}"
    with server.http("tier1") as t1, server.http("core") as core, server.http("tier2") as t2:
        # the seed gives the core enterprise people and a policy that its confirmations take a
        # second person: here it confirms with its own key and nobody approves
        _ok(core.put("/v1/staff/policies/root.confirm", json={"approvers": 0}), 200)
        body = invoice_body(tier1, server.address("core"), number, face_yuan * YUAN)
        root = _ok(t1.post("/v1/invoices?wait=true", json=body))["invoice"]["root_id"]
        _ok(core.post(f"/v1/payables/{root}/confirm?wait=true"))
        parts = [
            {"to": tier1, "amount": (face_yuan - passed_yuan) * YUAN},
            {"to": tier2, "amount": passed_yuan * YUAN},
        ]
        whole = _ok(t1.get(f"/v1/pieces?root_id={root}&held=true"), 200)[0]["piece_id"]
        split = _ok(t1.post(f"/v1/pieces/{whole}/split?wait=true", json={"parts": parts}))
        kept, passed = split["result"]["child_ids"]
        asked = t2.post(
            "/v1/financing-requests",
            json={"piece_id": passed, "amount_wanted": passed_yuan * 98, "max_rate_bps": 800},
        )
        request_id = _ok(asked, 201)["id"]
    return {"root": root, "kept": kept, "passed": passed, "request": request_id}


def test_the_bank_buys_a_piece_and_the_auditor_follows_its_tree_to_the_bank(
    party: Callable[..., Party], console_server: ConsoleServer
) -> None:
    ids = financing_asked(console_server, face_yuan=800_000, passed_yuan=300_000)
    bank, auditor = party("bank"), party("auditor")

    # the bank sees the request with the debtor's name, the amount, maturity and maximum rate
    page = bank.page
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Financing").click()
    requests = page.get_by_role("region", name="Open financing requests")
    row = requests.get_by_role("row").filter(has_text=first_cell(ids["request"]))
    expect(row).to_contain_text("East China Motors")  # the debtor
    expect(row).to_contain_text("Wuxi Metals")  # the supplier asking
    expect(row).to_contain_text("¥300,000.00")
    expect(row).to_contain_text("8.00%")
    row.get_by_label("Rate a year (%)").fill("6")
    row.get_by_role("button", name="Post offer").click()
    expect(page.get_by_role("status")).to_contain_text(f"for piece {ids['passed']}, held in escrow")
    offers = page.get_by_role("region", name="Your open offers")
    offer_row = offers.get_by_role("row").filter(has_text=number(ids["passed"]))
    offer_id = int(re.findall(r"#(\d+)", offer_row.locator("td").first.inner_text())[0])

    # the supplier accepts over the API; the bank's portfolio holds the piece
    with console_server.http("tier2") as t2:
        _ok(t2.post(f"/v1/offers/{offer_id}/accept?wait=true"))
    page.reload()
    portfolio = page.get_by_role("region", name="Portfolio")
    expect(portfolio.get_by_role("row").filter(has_text=f"#{ids['passed']} ")).to_contain_text(
        "¥300,000.00"
    )
    ladder = portfolio.get_by_role("img", name=re.compile("^Expected repayments by"))
    expect(ladder).to_be_visible()
    expect(ladder).to_contain_text("¥300,000.00")
    screenshot(bank, "financier-home")

    # the auditor: charts on its home, then the receivable's tree
    apage = auditor.page
    apage.get_by_role("navigation", name="Pages").get_by_role("link", name="Audit").click()
    expect(apage.get_by_role("img", name="Aging of outstanding receivables")).to_be_visible()
    by_financier = apage.get_by_role("img", name="Exposure by financier")
    expect(by_financier).to_contain_text(BANK)
    screenshot(auditor, "auditor-home")
    apage.get_by_label("Open a receivable by its number").fill(str(ids["root"]))
    apage.get_by_role("button", name="Show its tree").click()
    tree = apage.get_by_role("img", name=re.compile(rf"^Provenance of receivable #{ids['root']}:"))
    expect(tree).to_have_attribute(
        "aria-label", f"Provenance of receivable #{ids['root']}: 3 pieces on 2 levels"
    )
    sold = tree.locator(f"g.piece[data-piece='{ids['passed']}']")
    expect(sold).to_contain_text(f"#{ids['passed']} {BANK}")
    expect(sold).to_contain_text("sold for")
    expect(tree.locator(f"g.piece[data-piece='{ids['kept']}']")).to_contain_text("Suzhou Precision")
    pieces = apage.get_by_role("region", name="Provenance").get_by_role("table")
    expect(pieces.get_by_role("row").filter(has_text=number(ids["passed"]))).to_contain_text(BANK)
    history = apage.get_by_role("region", name="History")
    expect(history).to_contain_text("OfferAccepted")
    with apage.expect_download() as download:
        history.get_by_role("link", name="History as CSV").click()
    exported = Path(download.value.path()).read_text()
    assert exported.startswith("block_number,tx_hash,log_index,event,args")
    assert "OfferAccepted" in exported and "PieceSplit" in exported
    screenshot(auditor, "auditor-tree")

    # the events of that sale, filtered by name and party
    auditor.goto("/console/auditor/events")
    apage.get_by_label("Event name").fill("OfferAccepted")
    apage.get_by_label("Party").select_option(label=BANK)
    apage.get_by_role("button", name="Filter").click()
    table = apage.get_by_role("table")
    expect(
        table.get_by_role("row").filter(has_text=re.compile(rf"pieceId {ids['passed']}(?!\d)"))
    ).to_have_count(1)
    expect(table).not_to_contain_text("PieceSplit")
    auditor.goto("/console/auditor/reconciliation")
    expect(apage.get_by_role("status")).to_contain_text("The mirror matches the chain")

    # on a tablet the pages still need no sideways scrolling: the pictures scale down
    for who, path in (
        (auditor, f"/console/auditor/roots/{ids['root']}"),
        (bank, "/console/financier"),
    ):
        who.page.set_viewport_size({"width": TABLET, "height": 1000})
        who.goto(path)
        width = who.page.evaluate("document.scrollingElement.scrollWidth")
        assert width <= TABLET, f"{path} is {width} px wide on a {TABLET} px tablet"

    # in Chinese, the tree's words are the catalogue's
    zh = party("auditor", lang="zh")
    zh.goto(f"/console/auditor/roots/{ids['root']}")
    tree = zh.page.get_by_role("img", name=re.compile(rf"^应收账款 #{ids['root']} 的穿透图"))
    expect(tree.locator(f"g.piece[data-piece='{ids['passed']}']")).to_contain_text("售予")
    screenshot(zh, "auditor-tree-zh")


def test_a_bank_changes_its_offer_then_withdraws_it(
    party: Callable[..., Party], console_server: ConsoleServer
) -> None:
    ids = financing_asked(console_server, face_yuan=200_000, passed_yuan=50_000)
    bank = party("bank")
    page = bank.page
    bank.goto("/console/financier")
    requests = page.get_by_role("region", name="Open financing requests")
    row = requests.get_by_role("row").filter(has_text=first_cell(ids["request"]))
    row.get_by_label("Rate a year (%)").fill("7.5")
    row.get_by_role("button", name="Post offer").click()
    expect(page.get_by_role("status")).to_contain_text("posted")
    offers = page.get_by_role("region", name="Your open offers")
    mine = offers.get_by_role("row").filter(has_text=number(ids["passed"]))
    first_price = mine.locator("td").nth(2).inner_text()

    mine.get_by_label("New rate a year (%)").fill("5")
    mine.get_by_role("button", name="Change").click()
    expect(page.get_by_role("status")).to_contain_text("withdrawn and offer")
    mine = offers.get_by_role("row").filter(has_text=number(ids["passed"]))
    expect(mine).to_have_count(1)  # the old offer is gone, the new one stands
    assert mine.locator("td").nth(2).inner_text() != first_price  # a lower rate: a higher price
    expect(mine).to_contain_text(f"for request #{ids['request']}")

    mine.get_by_role("button", name=re.compile("^Withdraw offer")).click()
    expect(page.get_by_role("status")).to_contain_text("its escrow is refunded")
    expect(offers.get_by_role("row").filter(has_text=number(ids["passed"]))).to_have_count(0)


def test_a_bad_rate_is_refused_naming_the_field(
    party: Callable[..., Party], console_server: ConsoleServer
) -> None:
    ids = financing_asked(console_server, face_yuan=100_000, passed_yuan=40_000)
    bank = party("bank")
    bank.expect_status(422)
    bank.goto("/console/financier")
    requests = bank.page.get_by_role("region", name="Open financing requests")
    row = requests.get_by_role("row").filter(has_text=first_cell(ids["request"]))
    row.get_by_label("Rate a year (%)").fill("six")
    row.get_by_role("button", name="Post offer").click()
    alert = bank.page.get_by_role("alert")
    expect(alert).to_contain_text("rate")
    expect(alert).to_contain_text("is not a yearly rate in percent")


def test_an_unknown_receivable_is_a_404_page_for_the_auditor(party: Callable[..., Party]) -> None:
    auditor = party("auditor")
    auditor.expect_status(404)
    response = auditor.goto("/console/auditor/roots/999999")
    assert response is not None and response.status == 404
    expect(auditor.page.get_by_role("alert")).to_contain_text("no receivable 999999")
