"""A supplier and its core enterprise in the browser: the supplier registers an invoice with
its files, the core enterprise confirms it, the supplier asks for financing, a bank offers (over
the HTTP API: the bank's pages are another's), the supplier compares and accepts, and the core
enterprise repays in two instalments. And the refusals: an unknown piece, a bad amount."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

from playwright.sync_api import expect

from tests.console.conftest import ConsoleServer, Party, screenshot

PDF = (
    b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n" + b"stream of an invoice\n" * 40 + b"%%EOF\n"
)


def test_invoice_to_financing_to_repayment(
    party: Callable[..., Party], console_server: ConsoleServer, tmp_path: Path
) -> None:
    # the seed gives the core enterprise people and the default policies: here it acts with
    # its own key and nobody approves (its people's story is test_browser_staff.py's)
    with console_server.http("core") as own:
        for action in ("root.confirm", "root.repay"):
            resp = own.put(f"/v1/staff/policies/{action}", json={"approvers": 0})
            assert resp.status_code == 200, resp.text
    tier1, core = party("tier1"), party("core")
    invoice_pdf = tmp_path / "INV-CONSOLE-1.pdf"
    invoice_pdf.write_bytes(PDF)

    # the supplier registers an invoice with its document
    page = tier1.page
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Receivables").click()
    page.get_by_role("link", name="Register an invoice").click()
    page.get_by_label("Invoice number").fill("INV-CONSOLE-1")
    page.get_by_label("Buyer (core enterprise)").fill(console_server.address("core"))
    page.get_by_label("Amount (yuan)").fill("250,000.00")
    due = date.fromisoformat(page.get_by_label("Issue date").input_value()) + timedelta(days=90)
    page.get_by_label("Due date").fill(due.isoformat())
    page.get_by_label("The invoice").set_input_files(str(invoice_pdf))
    page.get_by_role("button", name="Register on the ledger").click()
    expect(page.get_by_role("status")).to_contain_text("Invoice INV-CONSOLE-1 registered")
    invoices = page.get_by_role("region", name="Your invoices")
    expect(invoices.get_by_role("row", name=re.compile("INV-CONSOLE-1"))).to_contain_text(
        "awaiting confirmation"
    )
    expect(invoices).to_contain_text("¥250,000.00")

    # the core enterprise sees it with its document, and confirms it
    cpage = core.page
    cpage.get_by_role("navigation", name="Pages").get_by_role("link", name="Payables").click()
    awaiting = cpage.get_by_role("region", name="Invoices awaiting your confirmation")
    card = awaiting.get_by_role("article").filter(has_text="INV-CONSOLE-1")
    expect(card.get_by_role("link", name="INV-CONSOLE-1.pdf")).to_be_visible()
    with cpage.expect_download() as download:
        card.get_by_role("link", name="INV-CONSOLE-1.pdf").click()
    assert Path(download.value.path()).read_bytes() == PDF
    card.get_by_role("button", name=re.compile("^Confirm receivable")).click()
    expect(cpage.get_by_role("status")).to_contain_text("confirmed: it is now payable")
    due_list = cpage.get_by_role("region", name="Payables by due date")
    expect(due_list.get_by_role("row", name=re.compile("INV-CONSOLE-1"))).to_contain_text(
        "¥250,000.00"
    )
    expect(cpage.get_by_text("Owed within 30 days")).to_be_visible()

    # the supplier's piece, worth less today than at maturity; it asks for financing
    page.reload()
    pieces = page.get_by_role("region", name="Pieces you hold")
    row = pieces.get_by_role("row").filter(has_text="¥250,000.00")
    expect(row).to_contain_text("active")
    screenshot(tier1, "supplier-home")
    row.get_by_role("link", name=re.compile(r"^#\d+$")).click()
    piece_id = int(page.url.rsplit("/", 1)[1])
    page.get_by_label("Amount wanted (yuan)").fill("240000")
    page.get_by_label("Highest yearly rate you accept (%)").fill("8")
    page.get_by_role("button", name="Ask the financiers").click()
    expect(page.get_by_role("status")).to_contain_text("Financing asked for")

    # a bank offers at 5% a year (the bank's own pages are another helper's)
    with console_server.http("bank") as bank:
        resp = bank.post("/v1/offers?wait=true", json={"piece_id": piece_id, "rate_bps": 500})
        assert resp.status_code == 202, resp.text
    page.reload()
    offers = page.get_by_role("region", name="Offers to buy this piece")
    offer_row = offers.get_by_role("row").filter(has_text="5.00%")
    expect(offer_row).to_contain_text("Pujiang Commercial Bank")
    screenshot(tier1, "supplier-offers")
    offer_row.get_by_role("button", name="Accept").click()
    expect(page.get_by_role("status")).to_contain_text("accepted: the piece is sold")
    balance = page.locator("dl.facts dd").first
    expect(balance).not_to_have_text("¥0.00")
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Receivables").click()
    passed_on = page.get_by_role("region", name="Pieces passed on or sold")
    expect(passed_on.get_by_role("row").filter(has_text="¥250,000.00")).to_contain_text(
        "Pujiang Commercial Bank"
    )

    # the core enterprise repays in two instalments
    cpage.reload()
    due_list = cpage.get_by_role("region", name="Payables by due date")
    payable = due_list.get_by_role("row", name=re.compile("INV-CONSOLE-1"))
    payable.get_by_label(re.compile("Amount to repay")).fill("100000")
    payable.get_by_role("button", name=re.compile("^Repay receivable")).click()
    expect(cpage.get_by_role("status")).to_contain_text("Repayment of receivable")
    payable = cpage.get_by_role("region", name="Payables by due date").get_by_role(
        "row", name=re.compile("INV-CONSOLE-1")
    )
    expect(payable).to_contain_text("¥150,000.00")  # still outstanding
    screenshot(core, "core-home")
    payable.get_by_role("button", name=re.compile("^Repay receivable")).click()
    expect(cpage.get_by_role("status")).to_contain_text("Repayment of receivable")
    payable = cpage.get_by_role("region", name="Payables by due date").get_by_role(
        "row", name=re.compile("INV-CONSOLE-1")
    )
    # repaid in full: nothing outstanding, nothing more to repay (the keeper pays the holder)
    expect(payable.locator("td").nth(5)).to_have_text("¥0.00")
    expect(payable.get_by_role("button")).to_have_count(0)


def test_an_unknown_piece_is_a_404_page(party: Callable[..., Party]) -> None:
    tier1 = party("tier1")
    tier1.expect_status(404)
    response = tier1.goto("/console/supplier/pieces/999999")
    assert response is not None and response.status == 404
    expect(tier1.page.get_by_role("alert")).to_contain_text("NotFound")


def test_a_bad_amount_is_refused_with_a_message_naming_it(
    party: Callable[..., Party], console_server: ConsoleServer
) -> None:
    tier1 = party("tier1")
    tier1.expect_status(422)
    page = tier1.page
    tier1.goto("/console/supplier/invoices/new")
    page.get_by_label("Invoice number").fill("INV-CONSOLE-BAD")
    page.get_by_label("Buyer (core enterprise)").fill(console_server.address("core"))
    page.get_by_label("Amount (yuan)").fill("12,34a")
    page.get_by_label("Due date").fill("2099-01-01")
    page.get_by_role("button", name="Register on the ledger").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("amount")
    expect(alert).to_contain_text("is not an amount in yuan")
    expect(alert).to_contain_text("ValidationError")
