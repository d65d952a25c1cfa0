"""The regulator's and the operator's pages without a browser: the search, freezing and
unfreezing with a reason, the frozen list with who, when and why; the member list, credit
limits, roles, suspension, onboarding with its one-time code, pausing. Each refusal is a page
with the API's code (the ledger's error name for what the ledger refuses)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.backend.conftest import YUAN, Api, invoice, make_api
from tests.console.clients import csrf_of, logged_in


@pytest.fixture(scope="module")
def api() -> Iterator[Api]:
    yield from make_api(with_console=True)


def confirmed(api: Api, number: str, amount: int = 20_000 * YUAN) -> dict[str, Any]:
    body = invoice(api.addresses["tier1"], api.addresses["core"], number, amount)
    created = api.as_("tier1").post("/v1/invoices?wait=true", json=body)
    assert created.status_code == 202, created.text
    root_id = created.json()["transaction"]["result"]["root_id"]
    resp = api.as_("core").post(f"/v1/payables/{root_id}/confirm?wait=true")
    assert resp.status_code == 202, resp.text
    pieces = api.as_("tier1").get(f"/v1/pieces?root_id={root_id}&held=true").json()
    return {"root_id": root_id, "piece_id": pieces[0]["piece_id"]}


def post_form(c: TestClient, page: str, action: str, data: dict[str, Any]) -> Any:
    token = csrf_of(c.get(page).text)
    return c.post(action, data={**data, "csrf": token}, follow_redirects=True)


def text_of(resp: Any) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", resp.text))


def frozen_section(page: str) -> str:
    return page.split('id="frozen-title"', 1)[1]


# -- the regulator ---------------------------------------------------------------------------


def test_the_search_finds_a_receivable_by_invoice_number_and_by_id(api: Api) -> None:
    made = confirmed(api, "INV-REG-FIND")
    c = logged_in(api, "regulator")
    by_number = c.get("/console/regulator?q=reg-find")
    assert by_number.status_code == 200
    assert "INV-REG-FIND" in by_number.text
    assert f'href="/console/regulator/receivables/{made["root_id"]}"' in by_number.text
    by_id = c.get(f"/console/regulator?q=%23{made['root_id']}")
    assert f'href="/console/regulator/receivables/{made["root_id"]}"' in by_id.text
    assert "¥20,000.00" in by_id.text


def test_the_search_finds_a_member_by_name_and_by_address(api: Api) -> None:
    c = logged_in(api, "regulator")
    tier1 = api.addresses["tier1"]
    by_name = c.get("/console/regulator?q=precision").text
    assert f'href="/console/regulator/members/{tier1}"' in by_name
    by_address = c.get(f"/console/regulator?q={tier1.lower()}").text
    assert f'href="/console/regulator/members/{tier1}"' in by_address
    member = c.get(f"/console/regulator/members/{tier1}")
    assert "苏州精工零部件有限公司" in member.text and "tier1@example.com" in member.text


def test_an_empty_search_is_a_clear_message(api: Api) -> None:
    resp = logged_in(api, "regulator").get("/console/regulator?q=+")
    assert resp.status_code == 422
    assert "SearchEmpty" in resp.text and "type a member" in resp.text


def test_a_search_matching_nothing_says_so(api: Api) -> None:
    resp = logged_in(api, "regulator").get("/console/regulator?q=no-such-thing-anywhere")
    assert resp.status_code == 200
    assert "Nothing on the ledger matches this search." in resp.text


def test_freeze_shows_in_the_frozen_list_with_who_when_why_then_unfreeze(api: Api) -> None:
    made = confirmed(api, "INV-REG-FREEZE")
    root_id = made["root_id"]
    c = logged_in(api, "regulator")
    page = f"/console/regulator/receivables/{root_id}"
    resp = post_form(c, page, f"{page}/freeze", {"reason": "disputed delivery"})
    assert resp.status_code == 200, resp.text
    assert f"Receivable {root_id} frozen: disputed delivery" in resp.text
    assert api.as_("regulator").get("/v1/audit/roots/" + str(root_id)).json()["root"]["frozen"]
    listed = frozen_section(c.get("/console/regulator").text)
    row = re.search(rf"receivables/{root_id}\".*?</tr>", listed, re.S)
    assert row, "the frozen list does not show the receivable"
    assert "disputed delivery" in row.group(0)
    assert "Financial Regulator" in row.group(0)  # who
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", row.group(0))  # when
    assert "Suzhou Precision Parts" in row.group(0) and "¥20,000.00" in row.group(0)

    again = post_form(c, page, f"{page}/freeze", {"reason": "twice"})
    assert again.status_code == 409 and "ReceivablesRootAlreadyFrozen" in again.text

    resp = post_form(c, page, f"{page}/unfreeze", {"reason": "settled out of court"})
    assert f"Receivable {root_id} unfrozen: settled out of court" in resp.text
    assert f'receivables/{root_id}"' not in frozen_section(c.get("/console/regulator").text)


def test_a_freeze_without_a_reason_is_a_clear_message(api: Api) -> None:
    made = confirmed(api, "INV-REG-NOREASON")
    page = f"/console/regulator/receivables/{made['root_id']}"
    resp = post_form(logged_in(api, "regulator"), page, f"{page}/freeze", {"reason": "  "})
    assert resp.status_code == 422
    assert "ReasonMissing" in resp.text
    assert f"Give the reason to freeze receivable {made['root_id']}" in text_of(resp)
    assert (
        not api.as_("regulator").get(f"/v1/audit/roots/{made['root_id']}").json()["root"]["frozen"]
    )


def test_a_piece_is_frozen_and_unfrozen_on_its_page(api: Api) -> None:
    made = confirmed(api, "INV-REG-PIECE")
    piece_id = made["piece_id"]
    c = logged_in(api, "regulator")
    page = f"/console/regulator/pieces/{piece_id}"
    resp = post_form(c, page, f"{page}/freeze", {"reason": "court order 7"})
    assert f"Piece {piece_id} frozen: court order 7" in resp.text
    assert "court order 7" in frozen_section(c.get("/console/regulator").text)
    assert api.as_("tier1").get(f"/v1/pieces/{piece_id}").json()["frozen"] is True
    resp = post_form(c, page, f"{page}/unfreeze", {"reason": "order lifted"})
    assert f"Piece {piece_id} unfrozen: order lifted" in resp.text
    assert api.as_("tier1").get(f"/v1/pieces/{piece_id}").json()["frozen"] is False


def test_an_unknown_receivable_is_a_404_page(api: Api) -> None:
    c = logged_in(api, "regulator")
    assert c.get("/console/regulator/receivables/999999").status_code == 404
    resp = post_form(
        c, "/console/regulator", "/console/regulator/receivables/999999/freeze", {"reason": "x"}
    )
    assert resp.status_code == 404 and "no receivable 999999" in resp.text


def test_a_freeze_form_without_its_csrf_token_is_refused(api: Api) -> None:
    made = confirmed(api, "INV-REG-CSRF")
    c = logged_in(api, "regulator")
    resp = c.post(
        f"/console/regulator/receivables/{made['root_id']}/freeze", data={"reason": "no token"}
    )
    assert resp.status_code == 403 and "CsrfTokenMissing" in resp.text


@pytest.mark.parametrize("path", ["/console/regulator", "/console/operator"])
def test_a_supplier_opening_the_regulators_or_operators_pages_gets_403(api: Api, path: str) -> None:
    resp = logged_in(api, "tier1").get(path)
    assert resp.status_code == 403 and "MissingRole" in resp.text


def test_a_supplier_cannot_freeze_through_the_form(api: Api) -> None:
    made = confirmed(api, "INV-REG-SELF")
    c = logged_in(api, "tier1")
    resp = post_form(
        c, "/console/", f"/console/regulator/receivables/{made['root_id']}/freeze", {"reason": "x"}
    )
    assert resp.status_code == 403 and "MissingRole" in resp.text


# -- the operator ----------------------------------------------------------------------------


def member_page(api: Api, who: str) -> str:
    return f"/console/operator/members/{api.addresses[who]}"


def test_the_member_list_shows_names_roles_status_and_credit(api: Api) -> None:
    page = logged_in(api, "operator").get("/console/operator")
    assert page.status_code == 200
    text = text_of(page)
    assert "East China Motors" in text and "core enterprise" in text
    assert "Suzhou Precision Parts" in text and "supplier" in text
    assert re.search(r"¥[\d,]+\.\d\d", text)
    assert "running" in text


def test_the_operator_sets_a_credit_limit_in_yuan(api: Api) -> None:
    c = logged_in(api, "operator")
    page = member_page(api, "core")
    resp = post_form(c, page, f"{page}/credit-limit", {"credit_limit": "12,345,678.90"})
    assert resp.status_code == 200, resp.text
    assert "Credit limit set to ¥12,345,678.90." in resp.text
    member = api.as_("operator").get(f"/v1/operator/members/{api.addresses['core']}").json()
    assert member["credit_limit"] == 1_234_567_890


def test_a_credit_limit_that_is_not_an_amount_names_the_field(api: Api) -> None:
    page = member_page(api, "core")
    resp = post_form(
        logged_in(api, "operator"), page, f"{page}/credit-limit", {"credit_limit": "lots"}
    )
    assert resp.status_code == 422
    assert "credit_limit" in resp.text and "not an amount in yuan" in text_of(resp)


def test_a_suppliers_credit_limit_is_the_ledgers_refusal(api: Api) -> None:
    page = member_page(api, "tier2")
    resp = post_form(
        logged_in(api, "operator"), page, f"{page}/credit-limit", {"credit_limit": "5"}
    )
    assert resp.status_code == 409
    assert "MemberRegistryCreditLimitNeedsCoreEnterprise" in resp.text


def test_suspend_and_reactivate_a_member(api: Api) -> None:
    c = logged_in(api, "operator")
    page = member_page(api, "tier2")
    resp = post_form(c, page, f"{page}/status", {"status": "suspended"})
    assert "Member suspended" in resp.text
    assert "Reactivate the member" in resp.text
    again = post_form(c, page, f"{page}/status", {"status": "suspended"})
    assert again.status_code == 409 and "MemberRegistryStatusUnchanged" in again.text
    resp = post_form(c, page, f"{page}/status", {"status": "active"})
    assert "Member reactivated." in resp.text
    member = api.as_("operator").get(f"/v1/operator/members/{api.addresses['tier2']}").json()
    assert member["status"] == "active"


def test_roles_need_at_least_one(api: Api) -> None:
    page = member_page(api, "auditor")
    resp = post_form(logged_in(api, "operator"), page, f"{page}/roles", {})
    assert resp.status_code == 422 and "choose at least one role" in resp.text


def test_roles_are_changed(api: Api) -> None:
    c = logged_in(api, "operator")
    page = member_page(api, "auditor")
    resp = post_form(c, page, f"{page}/roles", {"roles": ["AUDITOR", "FINANCIER"]})
    assert "Roles changed to AUDITOR, FINANCIER." in resp.text
    member = api.as_("operator").get(f"/v1/operator/members/{api.addresses['auditor']}").json()
    assert set(member["roles"]) == {"AUDITOR", "FINANCIER"}
    post_form(c, page, f"{page}/roles", {"roles": ["AUDITOR"]})


def test_the_member_page_shows_its_directory_entry(api: Api) -> None:
    text = text_of(logged_in(api, "operator").get(member_page(api, "bank")))
    assert "浦江商业银行股份有限公司" in text and "bank@example.com" in text and "USCC-bank" in text


def test_onboarding_shows_the_activation_code_once_and_it_works(api: Api) -> None:
    c = logged_in(api, "operator")
    resp = post_form(
        c,
        "/console/operator/members/new",
        "/console/operator/members",
        {
            "legal_name": "常州新材料有限公司",
            "short_name": "Changzhou Materials",
            "credit_code": "USCC-CONSOLE-NEW",
            "roles": ["SUPPLIER"],
            "contact_email": "cz@example.com",
        },
    )
    assert resp.status_code == 200, resp.text
    code = re.search(r'id="activation-code">([^<]+)<', resp.text)
    assert code, "no activation code shown"
    activated = api.client.post("/v1/auth/activate", json={"code": code.group(1)})
    assert activated.status_code in (200, 201), activated.text
    assert "Changzhou Materials" in c.get("/console/operator").text


def test_onboarding_without_a_role_or_a_name_names_the_fields(api: Api) -> None:
    c = logged_in(api, "operator")
    resp = post_form(
        c,
        "/console/operator/members/new",
        "/console/operator/members",
        {"legal_name": "", "credit_code": "USCC-X", "roles": ["SUPPLIER"]},
    )
    assert resp.status_code == 422 and "legal_name" in resp.text
    resp = post_form(
        c, "/console/operator/members/new", "/console/operator/members", {"legal_name": "X"}
    )
    assert resp.status_code == 422 and "choose at least one role" in resp.text


def test_pause_and_unpause_show_the_ledgers_state(api: Api) -> None:
    c = logged_in(api, "operator")
    resp = post_form(c, "/console/operator", "/console/operator/ledger/pause", {})
    assert "The ledger is paused" in resp.text and "Unpause the ledger" in resp.text
    again = post_form(c, "/console/operator", "/console/operator/ledger/pause", {})
    assert again.status_code == 409 and "MemberRegistryAlreadyPaused" in again.text
    resp = post_form(c, "/console/operator", "/console/operator/ledger/unpause", {})
    assert "The ledger runs again." in resp.text and "Pause the ledger" in resp.text


def test_the_pages_speak_chinese(api: Api) -> None:
    op = logged_in(api, "operator")
    op.cookies.set("scf_lang", "zh", path="/console")
    text = text_of(op.get("/console/operator"))
    assert "准入成员" in text and "暂停账本" in text and "核心企业" in text
    reg = logged_in(api, "regulator")
    reg.cookies.set("scf_lang", "zh", path="/console")
    assert "当前冻结" in text_of(reg.get("/console/regulator"))


def test_a_search_for_a_wildcard_matches_only_what_contains_it(api: Api) -> None:
    confirmed(api, "INV-REG-WILD")
    page = logged_in(api, "regulator").get("/console/regulator?q=%25").text
    assert "INV-REG-WILD" not in page  # "%" is a character searched for, not a wildcard
