"""The console's people without a browser: the staff login and its refusals, the one-time
password changed first, a fresh session at each login and a revoked token at logout, the staff
and policy pages for administrators only, and the approval queue's refusals (the maker, a
missing or foreign CSRF token, an action changed since it was shown)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from backend.settings import BackendSettings
from tests.backend.conftest import YUAN, Api, make_api
from tests.backend.staff_tools import (
    PASSWORD,
    Person,
    add_user,
    enrol,
    first_admin,
    registered_root,
)
from tests.console.clients import browser, csrf_of, logged_in

Org = tuple[Api, dict[str, Person]]


@pytest.fixture(scope="module")
def org() -> Iterator[Org]:
    settings = BackendSettings(
        profile="embedded",
        wait_timeout_seconds=30,
        login_lockout_failures=100,
        rate_limit_auth_per_client="1000/minute",
    )
    for api in make_api(settings, with_console=True):
        people = {"admin": enrol(api, first_admin(api, "core", "cs.admin"), as_name="admin")}
        for name, perms in (
            ("clerk", ["view", "payables.confirm", "payables.repay"]),
            ("manager", ["view", "payables.confirm", "payables.repay"]),
            ("reader", ["view"]),
        ):
            people[name] = enrol(api, add_user(api, "admin", f"cs.{name}", perms), as_name=name)
        yield api, people


def console_login(c: TestClient, person: Person, *, password: str | None = None) -> Any:
    """The staff login form; a wrong password is refused before the code is looked at, so it
    spends none of the person's codes (each is good once: a third login in 30 s waits)."""
    return c.post(
        "/console/login/staff",
        data={
            "login": person.login,
            "password": password if password is not None else person.password,
            "code": person.next_code() if password is None else "000000",
        },
        follow_redirects=False,
    )


_SIGNED_IN: dict[tuple[int, str], TestClient] = {}


def staff_browser(api: Api, person: Person) -> TestClient:
    """A console session of `person`, logged in once per module."""
    key = (id(api), person.login)
    if key not in _SIGNED_IN:
        c = browser(api)
        resp = console_login(c, person)
        assert resp.status_code == 303, resp.text
        _SIGNED_IN[key] = c
    return _SIGNED_IN[key]


def post_form(c: TestClient, page: str, action: str, data: dict[str, Any]) -> Any:
    token = csrf_of(c.get(page).text)
    return c.post(action, data={**data, "csrf": token}, follow_redirects=True)


def test_a_one_time_password_is_changed_before_anything_else(org: Org) -> None:
    api, _ = org
    created = add_user(api, "admin", "cs.newcomer", ["view"])
    person = Person(created["login"], created["totp_secret"], created["password"])
    c = browser(api)
    resp = console_login(c, person)
    assert resp.status_code == 303
    assert resp.headers["location"] == "/console/password?next=/console/"
    # every other page sends back to the password page
    home = c.get("/console/", follow_redirects=False)
    assert home.status_code == 303
    assert home.headers["location"].startswith("/console/password")
    page = c.get("/console/password")
    assert page.status_code == 200
    assert "one-time password" in page.text
    token = csrf_of(page.text)
    wrong = c.post(
        "/console/password",
        data={
            "csrf": token,
            "current_password": "not it",
            "new_password": PASSWORD,
            "repeat_password": PASSWORD,
        },
    )
    assert wrong.status_code == 401
    assert "The current password is wrong." in wrong.text
    assert c.get("/console/password").status_code == 200  # the session survives a typo
    differ = c.post(
        "/console/password",
        data={
            "csrf": token,
            "current_password": person.password,
            "new_password": PASSWORD,
            "repeat_password": PASSWORD + "!",
        },
    )
    assert differ.status_code == 422
    assert "PasswordMismatch" in differ.text
    weak = c.post(
        "/console/password",
        data={
            "csrf": token,
            "current_password": person.password,
            "new_password": "cs.newcomer",
            "repeat_password": "cs.newcomer",
        },
    )
    assert weak.status_code == 422
    assert "WeakPassword" in weak.text
    done = c.post(
        "/console/password",
        data={
            "csrf": token,
            "current_password": person.password,
            "new_password": PASSWORD,
            "repeat_password": PASSWORD,
            "next": "/console/",
        },
    )
    assert done.status_code == 200, done.text
    assert "Your password is changed." in done.text
    assert c.get("/console/notifications").status_code == 200


def test_login_refusals_are_shown_in_the_page(org: Org) -> None:
    api, people = org
    clerk = people["clerk"]
    c = browser(api)
    wrong = console_login(c, clerk, password="not the password")
    assert wrong.status_code == 401
    assert "Wrong login name, password or code." in wrong.text
    assert "BadCredentials" in wrong.text
    assert 'value="cs.clerk"' in wrong.text  # the name stays typed
    unknown = c.post(
        "/console/login/staff",
        data={"login": "cs.nobody", "password": "whatever it is", "code": "123456"},
    )
    assert unknown.status_code == 401
    assert "Wrong login name, password or code." in unknown.text
    malformed = c.post(
        "/console/login/staff", data={"login": "cs.clerk", "password": "x", "code": "12ab"}
    )
    assert malformed.status_code == 422
    assert "6-digit code" in malformed.text
    # a code is good once
    person = enrol(api, add_user(api, "admin", "cs.twice", ["view"]), as_name="twice")
    code = person.next_code()
    first = c.post(
        "/console/login/staff",
        data={"login": person.login, "password": person.password, "code": code},
        follow_redirects=False,
    )
    assert first.status_code == 303
    again = browser(api).post(
        "/console/login/staff",
        data={"login": person.login, "password": person.password, "code": code},
    )
    assert again.status_code == 401
    assert "That code was used already" in again.text


def test_repeated_failures_lock_the_user_out(org: Org) -> None:
    api, _ = org
    person = enrol(api, add_user(api, "admin", "cs.unlucky", ["view"]), as_name="unlucky")
    c = browser(api)
    for _ in range(api.rt.settings.staff_lockout_failures):
        assert console_login(c, person, password="guess").status_code == 401
    locked = console_login(c, person)  # the right password no longer helps
    assert locked.status_code == 429
    assert "locked out" in locked.text
    assert "UserLockedOut" in locked.text
    assert int(locked.headers["retry-after"]) > 0


def test_each_login_is_a_new_session_and_logout_revokes_it(org: Org) -> None:
    api, _ = org
    manager = enrol(api, add_user(api, "admin", "cs.rotating", ["view"]), as_name="rotating")
    c = browser(api)
    c.cookies.set("scf_console", "fixed-by-someone-else", domain="127.0.0.1", path="/console")
    resp = console_login(c, manager)
    assert resp.status_code == 303
    first = c.cookies.get("scf_console")
    assert first and first != "fixed-by-someone-else"
    assert c.get("/console/").status_code == 200
    # logging in again gives a new credential and ends the one before
    assert console_login(c, manager).status_code == 303
    second = c.cookies.get("scf_console")
    assert second and second != first
    replay = browser(api)
    replay.cookies.set("scf_console", first, domain="127.0.0.1", path="/console")
    lost = replay.get("/console/", follow_redirects=False)
    assert lost.status_code == 303
    assert "reason=TokenRevoked" in lost.headers["location"]
    # logout revokes the token, as /v1/auth/logout does
    token = csrf_of(c.get("/console/").text)
    out = c.post("/console/logout", data={"csrf": token}, follow_redirects=False)
    assert out.status_code == 303
    assert api.client.get("/v1/me", headers={"Authorization": f"Bearer {second}"}).status_code == (
        401
    )


def test_the_staff_page_is_the_administrators(org: Org) -> None:
    api, people = org
    clerk = staff_browser(api, people["clerk"])
    refused = clerk.get("/console/staff")
    assert refused.status_code == 403
    assert "MissingPermission" in refused.text
    assert 'href="/console/staff"' not in clerk.get("/console/").text  # no nav entry for it
    admin = staff_browser(api, people["admin"])
    page = admin.get("/console/staff")
    assert page.status_code == 200
    assert "cs.clerk" in page.text and "payables.confirm" in page.text
    assert 'href="/console/staff"' in page.text
    # a new user: its one-time password and second factor, shown once
    made = post_form(
        admin,
        "/console/staff",
        "/console/staff/users",
        {
            "login": "cs.treasurer",
            "display_name": "Chen Jie (treasurer)",
            "permissions": ["view", "payables.repay"],
            "amount_limit": "50,000",
        },
    )
    assert made.status_code == 201, made.text
    assert "otpauth://totp/" in made.text
    assert re.search(r'class="secret">[^<]{12,}<', made.text)
    listed = {u["login"]: u for u in api.as_("admin").get("/v1/staff/users").json()}
    assert listed["cs.treasurer"]["amount_limit"] == 50_000 * YUAN
    assert listed["cs.treasurer"]["permissions"] == ["payables.repay", "view"]
    # changed: a permission more, no limit, disabled
    changed = post_form(
        admin,
        "/console/staff",
        "/console/staff/users/cs.treasurer",
        {
            "display_name": "Chen Jie",
            "permissions": ["view", "payables.repay", "payables.confirm"],
            "amount_limit": "",
            "status": "disabled",
        },
    )
    assert changed.status_code == 200, changed.text
    assert "cs.treasurer is changed." in changed.text
    listed = {u["login"]: u for u in api.as_("admin").get("/v1/staff/users").json()}
    assert listed["cs.treasurer"]["amount_limit"] is None
    assert listed["cs.treasurer"]["status"] == "disabled"
    assert "payables.confirm" in listed["cs.treasurer"]["permissions"]
    reset = post_form(
        admin,
        "/console/staff",
        "/console/staff/users/cs.treasurer/reset",
        {"password": "true", "totp": "true"},
    )
    assert reset.status_code == 200, reset.text
    assert "User reset" in reset.text and "otpauth://totp/" in reset.text
    # the refusals are pages with the service's code
    taken = post_form(
        admin,
        "/console/staff",
        "/console/staff/users",
        {"login": "cs.clerk", "display_name": "Again", "permissions": ["view"]},
    )
    assert taken.status_code == 409 and "LoginTaken" in taken.text
    bad = post_form(
        admin,
        "/console/staff",
        "/console/staff/users",
        {"login": "cs.x2", "display_name": "X", "permissions": ["view", "everything"]},
    )
    assert bad.status_code == 422 and "everything" in bad.text
    last = post_form(
        admin,
        "/console/staff",
        "/console/staff/users/cs.admin",
        {"display_name": "cs.admin", "permissions": ["view"], "status": "active"},
    )
    assert last.status_code == 409 and "LastAdministrator" in last.text
    # the member itself (its own key) may manage its people too
    own = logged_in(api, "core")
    assert own.get("/console/staff").status_code == 200


def test_policies_are_shown_to_all_and_changed_by_administrators(org: Org) -> None:
    api, people = org
    clerk = staff_browser(api, people["clerk"])
    page = clerk.get("/console/staff/policies")
    assert page.status_code == 200
    assert "confirm a receivable" in page.text
    assert 'action="/console/staff/policies/' not in page.text  # nothing to change for a clerk
    refused = clerk.post(
        "/console/staff/policies/root.repay",
        data={"csrf": csrf_of(page.text), "approvers": "2", "above_amount": "0"},
    )
    assert refused.status_code == 403 and "MissingPermission" in refused.text
    admin = staff_browser(api, people["admin"])
    done = post_form(
        admin,
        "/console/staff/policies",
        "/console/staff/policies/offer.post",
        {"approvers": "2", "above_amount": "2,000,000.00", "approver_permission": "offers.post"},
    )
    assert done.status_code == 200, done.text
    assert "is changed" in done.text
    rule = {p["action"]: p for p in api.as_("admin").get("/v1/staff/policies").json()}
    assert rule["offer.post"]["approvers"] == 2
    assert rule["offer.post"]["above_amount"] == 2_000_000 * YUAN
    back = post_form(
        admin,
        "/console/staff/policies",
        "/console/staff/policies/offer.post",
        {"approvers": "0", "above_amount": "0.00", "approver_permission": "offers.post"},
    )
    assert back.status_code == 200, back.text
    rule = {p["action"]: p for p in api.as_("admin").get("/v1/staff/policies").json()}
    assert rule["offer.post"]["approvers"] == 0
    too_many = post_form(
        admin,
        "/console/staff/policies",
        "/console/staff/policies/offer.post",
        {"approvers": "3", "above_amount": "0"},
    )
    assert too_many.status_code == 422
    unknown = post_form(
        admin, "/console/staff/policies", "/console/staff/policies/member.add", {"approvers": "1"}
    )
    assert unknown.status_code == 422 and "NotApprovable" in unknown.text


def test_a_confirmation_waits_for_a_second_person(org: Org) -> None:
    api, people = org
    root_id = registered_root(api, "INV-CSTAFF-1", 80_000 * YUAN)
    clerk = staff_browser(api, people["clerk"])
    made = post_form(clerk, "/console/core", f"/console/core/payables/{root_id}/confirm", {})
    assert made.status_code == 200, made.text
    assert f"Confirm receivable #{root_id} is waiting for approval" in made.text
    assert "confirmed: it is now payable" not in made.text

    # the maker sees it, may withdraw it, is not offered to approve it
    mine = clerk.get("/console/approvals")
    assert mine.status_code == 200
    assert "INV-CSTAFF-1" in mine.text and "¥80,000.00" in mine.text
    assert "You made this: another person must approve it." in mine.text
    assert "/approve" not in mine.text
    request_id = re.search(r'/console/approvals/([0-9a-f-]+)/reject"', mine.text)
    assert request_id
    rid = request_id.group(1)
    action_hash = api.as_("manager").get(f"/v1/approvals/{rid}").json()["action_hash"]
    maker = clerk.post(
        f"/console/approvals/{rid}/approve",
        data={"csrf": csrf_of(mine.text), "action_hash": action_hash},
    )
    assert maker.status_code == 403 and "MakerCannotApprove" in maker.text

    manager = staff_browser(api, people["manager"])
    page = manager.get("/console/approvals")
    assert f'name="action_hash" value="{action_hash}"' in page.text
    assert "cs.clerk" in page.text  # the maker
    assert 'href="/console/approvals"' in page.text  # the nav entry
    # the form's CSRF token: missing, or another session's
    missing = manager.post(f"/console/approvals/{rid}/approve", data={"action_hash": action_hash})
    assert missing.status_code == 403
    assert "CsrfTokenMissing" in missing.text and "security token" in missing.text
    foreign = manager.post(
        f"/console/approvals/{rid}/approve",
        data={"csrf": csrf_of(mine.text), "action_hash": action_hash},
    )
    assert foreign.status_code == 403
    assert "CsrfTokenInvalid" in foreign.text and "does not belong to this session" in foreign.text
    changed = manager.post(
        f"/console/approvals/{rid}/approve",
        data={"csrf": csrf_of(page.text), "action_hash": "0" * 64},
    )
    assert changed.status_code == 409 and "ActionChanged" in changed.text
    manager.cookies.set("scf_lang", "zh", domain="127.0.0.1", path="/console")
    zh = manager.get("/console/approvals")
    assert "等待审批" in zh.text and f"确认应收账款 #{root_id}" in zh.text
    manager.cookies.delete("scf_lang")
    # one who may not approve it is not offered to, and is refused if it tries
    reader = staff_browser(api, people["reader"])
    seen = reader.get("/console/approvals")
    assert "You may not approve this: it needs the permission" in seen.text
    assert f"/console/approvals/{rid}/approve" not in seen.text
    tried = reader.post(
        f"/console/approvals/{rid}/approve",
        data={"csrf": csrf_of(seen.text), "action_hash": action_hash},
    )
    assert tried.status_code == 403 and "MissingPermission" in tried.text
    # the member's own key sees the queue but a person decides
    own = logged_in(api, "core").get("/console/approvals")
    assert "log in as a staff user to decide" in own.text

    approved = manager.post(
        f"/console/approvals/{rid}/approve",
        data={"csrf": csrf_of(page.text), "action_hash": action_hash},
    )
    assert approved.status_code == 200, approved.text
    assert f"Approved: Confirm receivable #{root_id} is done on the ledger." in approved.text
    payable = api.as_("core").get(f"/v1/payables?after={root_id - 1}&limit=1").json()[0]
    assert payable["status"] == "confirmed"
    done = manager.get("/console/approvals?status=mined")
    assert "INV-CSTAFF-1" in done.text and "cs.manager" in done.text


def test_a_rejection_needs_a_reason_and_ends_it_unsent(org: Org) -> None:
    api, people = org
    root_id = registered_root(api, "INV-CSTAFF-2", 10_000 * YUAN)
    clerk = staff_browser(api, people["clerk"])
    post_form(clerk, "/console/core", f"/console/core/payables/{root_id}/confirm", {})
    manager = staff_browser(api, people["manager"])
    page = manager.get("/console/approvals")
    found = re.search(r'/console/approvals/([0-9a-f-]+)/reject"', page.text)
    assert found
    action = f"/console/approvals/{found.group(1)}/reject"
    empty = manager.post(action, data={"csrf": csrf_of(page.text), "reason": " "})
    assert empty.status_code == 422
    rejected = manager.post(
        action, data={"csrf": csrf_of(page.text), "reason": "the goods have not arrived"}
    )
    assert rejected.status_code == 200, rejected.text
    assert "Nothing was sent." in rejected.text
    gone = manager.get("/console/approvals?status=rejected")
    assert "the goods have not arrived" in gone.text
    # its maker withdraws one the same way
    root_id = registered_root(api, "INV-CSTAFF-4", 10_000 * YUAN)
    post_form(clerk, "/console/core", f"/console/core/payables/{root_id}/confirm", {})
    page = clerk.get("/console/approvals")
    card = page.text[page.text.index("INV-CSTAFF-4") :]
    found = re.search(r'/console/approvals/([0-9a-f-]+)/reject"', card)
    assert found and "Why withdraw it" in card
    withdrawn = clerk.post(
        f"/console/approvals/{found.group(1)}/reject",
        data={"csrf": csrf_of(page.text), "reason": "typed the wrong receivable"},
    )
    assert withdrawn.status_code == 200, withdrawn.text
    assert "Nothing was sent." in withdrawn.text


def test_a_suppliers_split_under_its_policy_waits_too(org: Org) -> None:
    api, _ = org
    root_id = registered_root(api, "INV-CSTAFF-3", 50_000 * YUAN)
    made = api.as_("clerk").post(f"/v1/payables/{root_id}/confirm")
    assert made.status_code == 202 and made.json()["status"] == "pending_approval", made.text
    rid = made.json()["id"]
    shown = api.as_("manager").get(f"/v1/approvals/{rid}").json()
    done = api.as_("manager").post(
        f"/v1/approvals/{rid}/approve?wait=true", json={"action_hash": shown["action_hash"]}
    )
    assert done.json()["request"]["status"] == "mined", done.text
    enrol(api, first_admin(api, "tier1", "cs.t1admin"), as_name="t1admin")
    t1clerk = enrol(
        api, add_user(api, "t1admin", "cs.t1clerk", ["view", "pieces.transfer"]), as_name="t1clerk"
    )
    rule = api.as_("t1admin").put("/v1/staff/policies/piece.split", json={"approvers": 1})
    assert rule.status_code == 200, rule.text
    piece = api.as_("tier1").get(f"/v1/pieces?root_id={root_id}&held=true").json()[0]
    c = staff_browser(api, t1clerk)
    page = f"/console/supplier/pieces/{piece['piece_id']}"
    resp = post_form(
        c, page, f"{page}/split", {"to": [api.addresses["tier2"], ""], "amount": ["10,000", ""]}
    )
    assert resp.status_code == 200, resp.text
    assert f"Split piece #{piece['piece_id']} is waiting for approval" in resp.text
    assert "split." not in resp.text
