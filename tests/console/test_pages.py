"""The supplier's and the core enterprise's forms without a browser: each write goes through
the service its /v1 route calls and shows the outcome, and each refusal is a page with the
API's code (the ledger's error name for what the ledger refuses)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from backend.settings import BackendSettings
from chain.pricing import discount_price
from tests.backend.conftest import YUAN, Api, invoice, make_api
from tests.console.clients import csrf_of, logged_in


@pytest.fixture(scope="module")
def api() -> Iterator[Api]:
    yield from make_api(with_console=True)


def confirmed_piece(api: Api, number: str, amount: int = 100_000 * YUAN) -> dict[str, Any]:
    """A receivable of tier1 on core, confirmed: its root piece, held by tier1."""
    body = invoice(api.addresses["tier1"], api.addresses["core"], number, amount)
    created = api.as_("tier1").post("/v1/invoices?wait=true", json=body)
    assert created.status_code == 202, created.text
    root_id = created.json()["transaction"]["result"]["root_id"]
    resp = api.as_("core").post(f"/v1/payables/{root_id}/confirm?wait=true")
    assert resp.status_code == 202, resp.text
    pieces = api.as_("tier1").get(f"/v1/pieces?root_id={root_id}&held=true").json()
    return {"root_id": root_id, "piece": pieces[0]}


def post_form(c: TestClient, page: str, action: str, data: dict[str, Any]) -> Any:
    """Send a form the way the page does: with the page's CSRF token."""
    token = csrf_of(c.get(page).text)
    return c.post(action, data={**data, "csrf": token}, follow_redirects=True)


def test_split_gives_the_rows_away_and_keeps_the_rest(api: Api) -> None:
    made = confirmed_piece(api, "INV-PAGES-SPLIT")
    piece_id = made["piece"]["piece_id"]
    c = logged_in(api, "tier1")
    page = f"/console/supplier/pieces/{piece_id}"
    resp = post_form(
        c,
        page,
        f"{page}/split",
        {"to": [api.addresses["tier2"], ""], "amount": ["30,000.00", ""]},
    )
    assert resp.status_code == 200, resp.text
    assert f"Piece {piece_id} split." in resp.text
    children = api.as_("tier1").get(f"/v1/pieces?root_id={made['root_id']}").json()
    held = {(p["holder"].lower(), p["amount"]) for p in children if p["parent_id"] == piece_id}
    assert held == {
        (api.addresses["tier2"].lower(), 30_000 * YUAN),
        (api.addresses["tier1"].lower(), 70_000 * YUAN),
    }


def test_a_split_larger_than_the_piece_is_refused_naming_it(api: Api) -> None:
    made = confirmed_piece(api, "INV-PAGES-BIG")
    page = f"/console/supplier/pieces/{made['piece']['piece_id']}"
    c = logged_in(api, "tier1")
    resp = post_form(
        c, page, f"{page}/split", {"to": [api.addresses["tier2"]], "amount": ["100000.01"]}
    )
    assert resp.status_code == 422
    assert "SplitTooLarge" in resp.text and "more than the piece" in resp.text


def test_a_split_row_without_a_member_is_refused(api: Api) -> None:
    made = confirmed_piece(api, "INV-PAGES-NOONE")
    page = f"/console/supplier/pieces/{made['piece']['piece_id']}"
    resp = post_form(logged_in(api, "tier1"), page, f"{page}/split", {"to": [""], "amount": ["10"]})
    assert resp.status_code == 422
    assert "part 1: choose the member it goes to" in resp.text


def test_transfer_passes_the_whole_piece_on(api: Api) -> None:
    made = confirmed_piece(api, "INV-PAGES-PASS")
    piece_id = made["piece"]["piece_id"]
    page = f"/console/supplier/pieces/{piece_id}"
    resp = post_form(
        logged_in(api, "tier1"), page, f"{page}/transfer", {"to": api.addresses["tier2"]}
    )
    assert f"Piece {piece_id} passed on." in resp.text
    moved = api.as_("tier2").get(f"/v1/pieces/{piece_id}").json()
    assert moved["holder"].lower() == api.addresses["tier2"].lower()


def test_another_suppliers_piece_is_a_404_page(api: Api) -> None:
    made = confirmed_piece(api, "INV-PAGES-HIDDEN")
    resp = logged_in(api, "tier2").get(f"/console/supplier/pieces/{made['piece']['piece_id']}")
    assert resp.status_code == 404
    assert "NotFound" in resp.text


def test_the_piece_page_shows_its_worth_today_at_the_rate_asked(api: Api) -> None:
    made = confirmed_piece(api, "INV-PAGES-WORTH")
    piece_id = made["piece"]["piece_id"]
    c = logged_in(api, "tier1")
    html = c.get(f"/console/supplier/pieces/{piece_id}?rate=3.6").text
    days = re.search(r"at 3\.60% a year, (\d+) days to maturity", html)
    assert days, "the page shows no rate and days"
    price = discount_price(100_000 * YUAN, rate_bps=360, days=int(days.group(1)))
    assert 80 <= int(days.group(1)) <= 90
    assert f"¥{price // 100:,}.{price % 100:02d}" in html


def test_a_financing_request_with_a_bad_rate_names_the_field(api: Api) -> None:
    made = confirmed_piece(api, "INV-PAGES-RATE")
    page = f"/console/supplier/pieces/{made['piece']['piece_id']}"
    resp = post_form(
        logged_in(api, "tier1"),
        page,
        f"{page}/financing",
        {"amount_wanted": "1000", "max_rate": "lots"},
    )
    assert resp.status_code == 422
    assert "max_rate" in resp.text and "not a yearly rate in percent" in resp.text


def test_the_core_enterprise_rejects_with_a_reason(api: Api) -> None:
    body = invoice(api.addresses["tier1"], api.addresses["core"], "INV-PAGES-REJ", 5_000 * YUAN)
    created = api.as_("tier1").post("/v1/invoices?wait=true", json=body).json()
    root_id = created["transaction"]["result"]["root_id"]
    c = logged_in(api, "core")
    assert "INV-PAGES-REJ" in c.get("/console/core").text
    resp = post_form(
        c, "/console/core", f"/console/core/payables/{root_id}/reject", {"reason": "not ours"}
    )
    assert f"Receivable {root_id} rejected." in resp.text
    assert api.as_("core").get("/v1/payables?status=rejected").json()[-1]["root_id"] == root_id


def test_a_rejection_without_a_reason_is_refused(api: Api) -> None:
    body = invoice(api.addresses["tier1"], api.addresses["core"], "INV-PAGES-NOREASON", 5 * YUAN)
    created = api.as_("tier1").post("/v1/invoices?wait=true", json=body).json()
    root_id = created["transaction"]["result"]["root_id"]
    resp = post_form(
        logged_in(api, "core"),
        "/console/core",
        f"/console/core/payables/{root_id}/reject",
        {"reason": " "},
    )
    assert resp.status_code == 422 and "reason" in resp.text


def test_repaying_more_than_is_owed_shows_the_ledgers_refusal(api: Api) -> None:
    made = confirmed_piece(api, "INV-PAGES-OVER", amount=1_000 * YUAN)
    resp = post_form(
        logged_in(api, "core"),
        "/console/core",
        f"/console/core/payables/{made['root_id']}/repay",
        {"amount": "1000.01"},
    )
    assert resp.status_code == 409
    assert "ReceivablesRepaymentExceedsOutstanding" in resp.text


def test_a_supplier_cannot_confirm_through_the_core_pages(api: Api) -> None:
    body = invoice(api.addresses["tier1"], api.addresses["core"], "INV-PAGES-SELF", 5 * YUAN)
    created = api.as_("tier1").post("/v1/invoices?wait=true", json=body).json()
    root_id = created["transaction"]["result"]["root_id"]
    c = logged_in(api, "tier1")
    resp = post_form(c, "/console/", f"/console/core/payables/{root_id}/confirm", {})
    assert resp.status_code == 403 and "MissingRole" in resp.text


def test_the_statement_files_are_the_apis(api: Api) -> None:
    c = logged_in(api, "tier1")
    pdf = c.get("/console/statement?format=pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    csv = c.get("/console/statement?format=csv")
    assert csv.headers["content-type"].startswith("text/csv")
    same = api.as_("tier1").get("/v1/me/statement?format=csv")
    assert csv.text == same.text


def test_the_cash_page_shows_the_balance_as_money(api: Api) -> None:
    html = logged_in(api, "core").get("/console/supplier/cash")
    assert html.status_code == 403  # a core enterprise is no supplier
    page = logged_in(api, "tier1").get("/console/supplier/cash").text
    assert re.search(r"¥[\d,]+\.\d\d", page)


def test_a_form_sent_twice_sends_one_transaction(api: Api) -> None:
    made = confirmed_piece(api, "INV-PAGES-TWICE", amount=1_000 * YUAN)
    c = logged_in(api, "core")
    html = c.get("/console/core").text
    form = {
        "csrf": csrf_of(html),
        "idem": re.search(r'name="idem" value="([^"]+)"', html).group(1),  # type: ignore[union-attr]
        "amount": "100",
    }
    action = f"/console/core/payables/{made['root_id']}/repay"
    first = c.post(action, data=form, follow_redirects=True)
    assert f"Repayment of receivable {made['root_id']} sent." in first.text
    again = c.post(action, data=form, follow_redirects=True)
    assert again.status_code == 200 and "This form was already sent" in again.text
    assert "mined" in again.text
    root = next(
        r for r in api.as_("core").get("/v1/payables").json() if r["root_id"] == made["root_id"]
    )
    assert root["repaid"] == 100 * YUAN


def test_the_invoice_form_takes_a_file_as_large_as_the_api_does() -> None:
    """A request body may be 64 KiB, an attachment 256 KiB: the form with a 200 KiB scan goes
    through, as POST /v1/attachments would take it."""
    settings = BackendSettings(
        profile="embedded",
        wait_timeout_seconds=30,
        max_request_bytes=64 * 1024,
        max_attachment_bytes=256 * 1024,
    )
    for small in make_api(settings, with_console=True):
        c = logged_in(small, "tier1")
        token = csrf_of(c.get("/console/supplier/invoices/new").text)
        scan = b"%PDF-1.7\n" + b"0" * (200 * 1024) + b"\n%%EOF\n"
        resp = c.post(
            "/console/supplier/invoices",
            data={
                "csrf": token,
                "number": "INV-PAGES-BIGSCAN",
                "buyer": small.addresses["core"],
                "amount": "1000",
                "issue_date": date.today().isoformat(),
                "due_date": (date.today() + timedelta(days=60)).isoformat(),
            },
            files={"invoice_file": ("scan.pdf", scan, "application/pdf")},
            follow_redirects=True,
        )
        assert resp.status_code == 200, resp.text
        assert "Invoice INV-PAGES-BIGSCAN registered" in resp.text
        too_big = small.as_("tier1").post("/v1/invoices", content=b"x" * (65 * 1024))
        assert too_big.status_code == 413  # the other paths keep the request limit
