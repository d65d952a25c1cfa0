"""The core enterprise's people in the browser, as `make run` seeds them: the clerk logs in with
a password and the authenticator's code and confirms an invoice, which waits; the manager, in
a browser of its own, sees everything it decides on and approves it, and it is confirmed. A
form whose CSRF token is missing or another's is refused with the page's message; a session
cookie planted before a login is not the one after it."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from backend.security import TOTP_STEP_SECONDS, totp_code
from backend.tools.client import invoice_body
from tests.console.conftest import WIDTH, ConsoleServer, Party, Watch, screenshot

YUAN = 100
StaffParty = Callable[..., Party]


def current_code(secret: str) -> str:
    """The next step's code: the seed's own login used the step it ran in (a code is good
    once), and the server takes one step either side of now."""
    from datetime import UTC, datetime

    step = int(time.time()) // TOTP_STEP_SECONDS + 1
    return totp_code(secret, datetime.fromtimestamp(step * TOTP_STEP_SECONDS, UTC))


@pytest.fixture
def staff_party(browser: Browser, console_server: ConsoleServer) -> Iterator[StaffParty]:
    """`staff_party("clerk")`: a browser context of its own, logged in with the seeded
    person's login name, password and code; console errors and failed requests fail the test."""
    opened: list[tuple[Any, Party]] = []

    def open_party(
        role: str,
        *,
        cookie: str | None = None,
        person: dict[str, str] | None = None,
        lands: str = "**/console/",
    ) -> Party:
        person = person or console_server.seeded.staff[role]
        context = browser.new_context(
            viewport={"width": WIDTH, "height": 900}, base_url=console_server.base_url
        )
        if cookie is not None:
            context.add_cookies(
                [
                    {
                        "name": "scf_console",
                        "value": cookie,
                        "url": console_server.base_url + "/console/",
                    }
                ]
            )
        page = context.new_page()
        watch = Watch()
        page.on("console", watch.on_console)
        page.on("requestfailed", watch.on_failed)
        page.on("response", watch.on_response)
        who = Party(name=role, page=page, watch=watch, base_url=console_server.base_url)
        opened.append((context, who))
        who.goto("/console/login")
        form = page.locator("form[action='/console/login/staff']")
        form.get_by_label("Login name").fill(person["login"])
        form.get_by_label("Password").fill(person["password"])
        form.get_by_label("6-digit code").fill(current_code(person["totp_secret"]))
        form.get_by_role("button", name="Log in").click()
        page.wait_for_url(lands)
        return who

    yield open_party
    problems = [f"{who.name}: {p}" for _, who in opened for p in who.watch.problems]
    for context, _ in opened:
        context.close()
    assert problems == [], "\n".join(problems)


def registered_root(console_server: ConsoleServer, number: str, amount: int) -> int:
    body = invoice_body(
        console_server.address("tier1"), console_server.address("core"), number, amount
    )
    with console_server.http("tier1") as tier1:
        resp = tier1.post("/v1/invoices?wait=true", json=body)
    assert resp.status_code == 202, resp.text
    assert resp.json()["transaction"]["status"] == "mined", resp.text
    return int(resp.json()["invoice"]["root_id"])


def test_the_clerk_confirms_and_the_manager_approves(
    staff_party: StaffParty, console_server: ConsoleServer
) -> None:
    with console_server.http("core") as own:  # the default policy, whatever ran before
        resp = own.put("/v1/staff/policies/root.confirm", json={"approvers": 1})
        assert resp.status_code == 200, resp.text
    root_id = registered_root(console_server, "INV-STAFF-1", 120_000 * YUAN)
    clerk = staff_party("clerk")
    page = clerk.page
    expect(page.locator(".member-name")).to_contain_text("East China Motors")
    nav = page.get_by_role("navigation", name="Pages")
    expect(nav.get_by_role("link", name="Approvals")).to_be_visible()
    expect(nav.get_by_role("link", name="Staff")).to_have_count(0)  # not an administrator
    nav.get_by_role("link", name="Payables").click()
    card = (
        page.get_by_role("region", name="Invoices awaiting your confirmation")
        .get_by_role("article")
        .filter(has_text="INV-STAFF-1")
    )
    card.get_by_role("button", name=f"Confirm receivable #{root_id}").click()
    expect(page.get_by_role("status")).to_contain_text(
        f"Confirm receivable #{root_id} is waiting for approval"
    )

    # the maker sees its action waiting, and is not offered to approve it
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Approvals").click()
    mine = page.get_by_role("article").filter(has_text="INV-STAFF-1")
    expect(mine).to_contain_text("You made this: another person must approve it.")
    expect(mine.get_by_role("button", name=re.compile("^Approve"))).to_have_count(0)

    # the manager, in a browser of its own, sees what it decides on
    manager = staff_party("manager")
    mpage = manager.page
    mpage.get_by_role("navigation", name="Pages").get_by_role("link", name="Approvals").click()
    item = mpage.get_by_role("article").filter(has_text="INV-STAFF-1")
    expect(item).to_contain_text(f"Confirm receivable #{root_id}")
    expect(item).to_contain_text("¥120,000.00")
    expect(item).to_contain_text("Suzhou Precision Parts")  # the counterparty by name
    expect(item).to_contain_text(console_server.seeded.staff["clerk"]["login"])  # the maker
    expect(item).to_contain_text("0 / 1")
    expect(item).to_contain_text("Expires")
    screenshot(manager, "approvals")

    # a form whose CSRF token is another session's, then one without any, is refused
    approve = item.get_by_role("button", name=re.compile("^Approve"))
    manager.expect_status(403)
    item.locator("form[action$='/approve'] input[name=csrf]").evaluate("e => e.value = 'f00d'")
    approve.click()
    refusal = mpage.get_by_role("alert")
    expect(refusal).to_contain_text("does not belong to this session")
    expect(refusal).to_contain_text("CsrfTokenInvalid")
    mpage.go_back()
    mpage.reload()
    item = mpage.get_by_role("article").filter(has_text="INV-STAFF-1")
    item.locator("form[action$='/approve'] input[name=csrf]").evaluate("e => e.remove()")
    item.get_by_role("button", name=re.compile("^Approve")).click()
    expect(mpage.get_by_role("alert")).to_contain_text("came without its security token")
    expect(mpage.get_by_role("alert")).to_contain_text("CsrfTokenMissing")

    # approved as shown: sent, mined, confirmed
    mpage.goto(console_server.base_url + "/console/approvals")
    item = mpage.get_by_role("article").filter(has_text="INV-STAFF-1")
    item.get_by_role("button", name=re.compile("^Approve")).click()
    expect(mpage.get_by_role("status")).to_contain_text(
        f"Approved: Confirm receivable #{root_id} is done on the ledger."
    )
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Payables").click()
    due = page.get_by_role("region", name="Payables by due date")
    expect(due.get_by_role("row", name=re.compile("INV-STAFF-1"))).to_contain_text("¥120,000.00")


def test_the_administrator_gets_a_new_session_and_sees_its_people(
    staff_party: StaffParty, console_server: ConsoleServer
) -> None:
    admin = staff_party("admin", cookie="planted-before-login")
    cookies = {c["name"]: c["value"] for c in admin.page.context.cookies()}
    assert cookies["scf_console"] != "planted-before-login"
    page = admin.page
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Staff").click()
    users = page.get_by_role("region", name="The member's people")
    for person in console_server.seeded.staff.values():
        expect(users).to_contain_text(person["login"])
    expect(users).to_contain_text("payables.confirm")
    screenshot(admin, "staff")

    # a new person: its one-time password and authenticator secret, shown once
    add = page.get_by_role("region", name="Add a user")
    add.get_by_label("Login name").fill("core.auditor")
    add.get_by_label("Name", exact=True).fill("Zhao Lei (internal audit)")
    add.get_by_role("button", name="Add the user").click()
    once = page.get_by_role("region", name="Shown once")
    expect(once).to_contain_text("otpauth://totp/")
    secrets = once.locator("code.secret").all_inner_texts()
    assert len(secrets) == 2
    screenshot(admin, "staff-new-user")
    newcomer = staff_party(
        "newcomer",
        person={"login": "core.auditor", "password": secrets[0], "totp_secret": secrets[1]},
        lands="**/console/password**",
    )
    npage = newcomer.page
    expect(npage.get_by_role("status")).to_contain_text("one-time password")
    npage.get_by_label("Current password").fill(secrets[0])
    npage.get_by_label("New password", exact=True).fill("a long and private passphrase")
    npage.get_by_label("New password again").fill("a long and private passphrase")
    npage.get_by_role("button", name="Change the password").click()
    expect(npage.get_by_role("status")).to_contain_text("Your password is changed.")
    expect(npage.locator(".person")).to_contain_text("Zhao Lei (internal audit)")
    page.goto(console_server.base_url + "/console/staff")
    expect(page.get_by_role("row", name=re.compile("core.auditor"))).not_to_contain_text(
        "has not chosen a password yet"
    )
    page.get_by_role("link", name="Approval policies").click()
    expect(page.get_by_role("row", name=re.compile("confirm a receivable"))).to_contain_text("1")
    # logging out ends the token: the old cookie no longer opens a page
    token = cookies["scf_console"]
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/console/login")
    with console_server.http("core") as core:
        resp = core.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 401, resp.text
