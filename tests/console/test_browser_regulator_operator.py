"""The regulator and the operator in the browser: the regulator searches a receivable by its
invoice number, freezes it with a reason, finds it in the frozen list with who, when and why,
and unfreezes it; the operator changes a core enterprise's credit limit and suspends then
reactivates a supplier. And the refusals: a freeze without a reason, a supplier on the
operator's page."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable

from playwright.sync_api import expect

from backend.tools.client import invoice_body
from tests.console.conftest import ConsoleServer, Party, screenshot

YUAN = 100


def registered_receivable(console_server: ConsoleServer, number: str) -> int:
    """A receivable of tier1 on core, registered over the HTTP API (the supplier's pages are
    another's). Not confirmed: the demo core enterprise's confirmations wait for its manager's
    approval, and a regulator may freeze a receivable at any stage."""
    body = invoice_body(
        console_server.address("tier1"), console_server.address("core"), number, 80_000 * YUAN
    )
    with console_server.http("tier1") as tier1:
        created = tier1.post("/v1/invoices?wait=true", json=body)
        assert created.status_code == 202, created.text
    return int(created.json()["transaction"]["result"]["root_id"])


def test_the_regulator_finds_freezes_lists_and_unfreezes_a_receivable(
    party: Callable[..., Party], console_server: ConsoleServer
) -> None:
    number = f"INV-SUPERVISE-{secrets.token_hex(3).upper()}"
    root_id = registered_receivable(console_server, number)
    regulator = party("regulator")
    page = regulator.page

    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Supervision").click()
    page.get_by_label("Member name or address, receivable id or invoice number, piece id").fill(
        number.lower()
    )
    page.get_by_role("button", name="Search").click()
    results = page.get_by_role("region", name=re.compile("^Results for"))
    row = results.get_by_role("row", name=re.compile(number))
    expect(row).to_contain_text("¥80,000.00")
    expect(row).to_contain_text("Suzhou Precision Parts")
    expect(row).to_contain_text("awaiting confirmation")
    row.get_by_role("link", name=f"#{root_id}").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Receivable #{root_id}")

    # a freeze without a reason is a clear message, and freezes nothing
    regulator.expect_status(422)
    page.get_by_role("button", name="Freeze", exact=True).click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text(f"Give the reason to freeze receivable {root_id}")
    expect(alert).to_contain_text("ReasonMissing")
    page.go_back()

    page.get_by_label("Reason (the parties are told it)").fill("disputed delivery of steel coil")
    page.get_by_role("button", name="Freeze", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text(
        f"Receivable {root_id} frozen: disputed delivery of steel coil"
    )
    expect(page.get_by_role("heading", level=1)).to_contain_text("frozen")
    screenshot(regulator, "regulator-receivable-frozen")

    page.get_by_role("link", name="← Supervision").click()
    frozen = page.get_by_role("region", name="Frozen now")
    listed = frozen.get_by_role("row").filter(
        has=page.get_by_role("link", name=f"receivable #{root_id}")
    )
    expect(listed).to_contain_text("disputed delivery of steel coil")
    expect(listed).to_contain_text("Financial Regulator")
    expect(listed).to_contain_text(re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC"))
    expect(listed).to_contain_text("East China Motors")
    screenshot(regulator, "regulator-home")

    listed.get_by_role("link", name=f"receivable #{root_id}").click()
    page.get_by_label("Reason (the parties are told it)").fill("delivery confirmed by inspection")
    page.get_by_role("button", name="Unfreeze", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text(f"Receivable {root_id} unfrozen")
    page.get_by_role("link", name="← Supervision").click()
    expect(
        page.get_by_role("region", name="Frozen now").get_by_role(
            "link", name=f"receivable #{root_id}"
        )
    ).to_have_count(0)


def test_the_operator_changes_a_credit_limit_and_suspends_then_reactivates(
    party: Callable[..., Party],
) -> None:
    operator = party("operator")
    page = operator.page
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Consortium").click()
    expect(page.get_by_role("region", name="The ledger")).to_contain_text("running")
    members = page.get_by_role("region", name="Members")
    expect(members.get_by_role("row", name=re.compile("East China Motors"))).to_contain_text(
        "core enterprise"
    )

    members.get_by_role("link", name="East China Motors").click()
    page.get_by_label("New credit limit (yuan)").fill("60,000,000.00")
    page.get_by_role("button", name="Set the credit limit").click()
    expect(page.get_by_role("status")).to_contain_text("Credit limit set to ¥60,000,000.00.")
    page.get_by_role("link", name="← Consortium").click()
    core_row = page.get_by_role("region", name="Members").get_by_role(
        "row", name=re.compile("East China Motors")
    )
    expect(core_row).to_contain_text("¥60,000,000.00")
    screenshot(operator, "operator-home")

    page.get_by_role("region", name="Members").get_by_role("link", name="Wuxi Metals").click()
    expect(page.get_by_text("无锡金属材料有限公司")).to_be_visible()  # its directory entry
    page.get_by_role("button", name="Suspend the member").click()
    expect(page.get_by_role("status")).to_contain_text("Member suspended")
    expect(page.get_by_role("heading", level=1)).to_contain_text("suspended")
    screenshot(operator, "operator-member-suspended")
    page.get_by_role("button", name="Reactivate the member").click()
    expect(page.get_by_role("status")).to_contain_text("Member reactivated.")
    expect(page.get_by_role("heading", level=1)).to_contain_text("active")


def test_a_supplier_opening_the_operators_page_sees_403_in_the_page(
    party: Callable[..., Party],
) -> None:
    tier1 = party("tier1")
    tier1.expect_status(403)
    response = tier1.goto("/console/operator")
    assert response is not None and response.status == 403
    alert = tier1.page.get_by_role("alert")
    expect(alert).to_contain_text("needs the role OPERATOR")
    expect(alert).to_contain_text("MissingRole")
