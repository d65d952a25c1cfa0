"""The console's frame in a real browser: the login, the header and navigation by roles, the
language switch, refusals as pages, no horizontal scroll at 1280 px."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import expect

from tests.console.conftest import Party, screenshot


def test_a_supplier_logs_in_and_sees_its_name_roles_and_pages(
    party: Callable[..., Party],
) -> None:
    tier1 = party("tier1")
    page = tier1.page
    expect(page.locator("header .role")).to_contain_text("supplier")
    nav = page.get_by_role("navigation", name="Pages")
    expect(nav.get_by_role("link", name="Receivables")).to_be_visible()
    expect(nav.get_by_role("link", name="Payables")).to_have_count(0)
    screenshot(tier1, "login-home-tier1")


def test_a_supplier_opening_a_core_page_sees_403_in_the_page(
    party: Callable[..., Party],
) -> None:
    tier1 = party("tier1")
    tier1.expect_status(403)
    response = tier1.goto("/console/core")
    assert response is not None and response.status == 403
    alert = tier1.page.get_by_role("alert")
    expect(alert).to_contain_text("needs the role CORE_ENTERPRISE")
    expect(alert).to_contain_text("MissingRole")


def test_the_language_switch_shows_chinese_and_back(party: Callable[..., Party]) -> None:
    core = party("core")
    page = core.page
    page.get_by_role("link", name="中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
    expect(page.get_by_role("button", name="退出登录")).to_be_visible()
    screenshot(core, "home-core-zh")
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def test_logout_ends_the_session(party: Callable[..., Party]) -> None:
    bank = party("bank")
    bank.page.get_by_role("button", name="Log out").click()
    bank.page.wait_for_url("**/console/login")
    bank.goto("/console/")
    expect(bank.page.get_by_role("status")).to_contain_text("Log in to use the console.")


def test_the_pages_fit_a_tablet(party: Callable[..., Party]) -> None:
    for who, path in (("tier1", "/console/supplier"), ("core", "/console/core")):
        member = party(who)
        member.page.set_viewport_size({"width": 768, "height": 1024})
        member.goto(path)
        width = member.page.evaluate("document.scrollingElement.scrollWidth")
        assert width <= 768, f"{path} is {width} px wide on a 768 px tablet"


def test_the_keyboard_reaches_the_skip_link_first_and_the_forms(
    party: Callable[..., Party],
) -> None:
    tier1 = party("tier1")
    page = tier1.page
    tier1.goto("/console/supplier/invoices/new")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Invoice number")).to_be_focused()


def test_chinese_pages_fit_1280_px(party: Callable[..., Party]) -> None:
    tier1 = party("tier1", lang="zh")
    tier1.goto("/console/supplier")
    expect(tier1.page.get_by_role("heading", name="应收账款", exact=True)).to_be_visible()
    screenshot(tier1, "supplier-home-zh")
