"""Staff users: the operator's first administrator, users made by it, password + TOTP logins,
one-time passwords, lock-out, permissions by action and amount, keys owned by users."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, select

from backend.models import ActionLogEntry
from backend.security import totp_code
from backend.settings import BackendSettings
from tests.backend.conftest import YUAN, Api, make_api
from tests.backend.staff_tools import (
    PASSWORD,
    Person,
    add_user,
    enrol,
    first_admin,
    registered_root,
    staff_login,
)

Org = tuple[Api, dict[str, Person]]


@pytest.fixture(scope="module")
def org() -> Iterator[Org]:
    """core with an administrator, a clerk (confirm up to 2 million yuan), a manager (confirm
    and repay), a viewer, and a user that may confirm but not view."""
    # the client address's own lock-out (one test client) set aside: these tests are the user's
    settings = BackendSettings(
        profile="embedded", wait_timeout_seconds=30, login_lockout_failures=100
    )
    for api in make_api(settings):
        people = {
            "core-admin": enrol(api, first_admin(api, "core", "core.admin"), as_name="core-admin")
        }
        for name, perms, limit in (
            ("clerk", ["view", "payables.confirm"], 2_000_000 * YUAN),
            ("manager", ["view", "payables.confirm", "payables.repay"], None),
            ("viewer", ["view"], None),
            ("blind", ["payables.confirm"], None),
        ):
            created = add_user(api, "core-admin", f"core.{name}", perms, limit)
            people[name] = enrol(api, created, as_name=name)
        yield api, people


def _log(api: Api, action: str) -> list[ActionLogEntry]:
    with Session(api.rt.engine) as s:
        return list(s.exec(select(ActionLogEntry).where(ActionLogEntry.action == action)).all())


def test_the_operator_makes_only_the_first_administrator(
    org: Org,
) -> None:
    api, _ = org
    r = api.as_("operator").post(
        f"/v1/operator/members/{api.addresses['core']}/staff",
        json={"login": "core.second", "display_name": "x", "permissions": ["view", "users.admin"]},
    )
    assert r.status_code == 409 and r.json()["code"] == "StaffExists"
    # a non-administrator cannot make users
    r = api.as_("clerk").post(
        "/v1/staff/users", json={"login": "core.x", "display_name": "x", "permissions": ["view"]}
    )
    assert r.status_code == 403 and r.json()["code"] == "MissingPermission"
    assert "users.admin" in r.json()["message"]
    # login names are unique on the platform
    r = api.as_("core-admin").post(
        "/v1/staff/users", json={"login": "core.clerk", "display_name": "x", "permissions": []}
    )
    assert r.status_code == 409 and r.json()["code"] == "LoginTaken"
    users = {u["login"]: u for u in api.as_("core-admin").get("/v1/staff/users").json()}
    assert set(users) == {"core.admin", "core.clerk", "core.manager", "core.viewer", "core.blind"}
    assert users["core.clerk"]["amount_limit"] == 2_000_000 * YUAN
    assert users["core.admin"]["created_by"] is None  # the operator's
    assert users["core.clerk"]["created_by"] == "core.admin"
    # the member starts with the default policies
    policies = {p["action"]: p for p in api.as_("core-admin").get("/v1/staff/policies").json()}
    assert policies["root.confirm"]["approvers"] == 1 and policies["root.confirm"]["default"]
    assert policies["root.repay"]["approvers"] == 1
    assert policies["piece.split"]["approvers"] == 0


def test_a_one_time_password_must_be_changed_first(org: Org) -> None:
    api, _ = org
    created = add_user(api, "core-admin", "core.newcomer", ["view"])
    person = Person(created["login"], created["totp_secret"], created["password"])
    body = staff_login(api, person)
    assert body["password_change_required"] is True
    bearer = {"Authorization": f"Bearer {body['access_token']}"}
    r = api.client.get("/v1/payables", headers=bearer)
    assert r.status_code == 403 and r.json()["code"] == "PasswordChangeRequired"
    weak = {"current_password": person.password, "new_password": "core.newcomer"}
    r = api.client.post("/v1/staff/me/password", json=weak, headers=bearer)
    assert r.status_code in (400, 422)
    good = {"current_password": person.password, "new_password": PASSWORD}
    assert api.client.post("/v1/staff/me/password", json=good, headers=bearer).status_code == 204
    assert api.client.get("/v1/staff/me", headers=bearer).json()["must_change_password"] is False
    assert api.client.get("/v1/payables", headers=bearer).status_code == 200


def test_a_code_is_good_once(org: Org) -> None:
    api, people = org
    viewer = people["viewer"]
    code = viewer.next_code()
    body = {"login": viewer.login, "password": viewer.password, "code": code}
    assert api.client.post("/v1/auth/staff-login", json=body).status_code == 200
    r = api.client.post("/v1/auth/staff-login", json=body)  # the same code, within its window
    assert r.status_code == 401 and r.json()["code"] == "TotpReplayed"
    # an earlier step's code is as used as the same one
    earlier = totp_code(viewer.secret, datetime.now(UTC) - timedelta(seconds=30))
    r = api.client.post("/v1/auth/staff-login", json={**body, "code": earlier})
    assert r.status_code == 401 and r.json()["code"] in ("TotpReplayed", "BadCredentials")
    # a code far outside the window is wrong, and says no more than a wrong password would
    far = totp_code(viewer.secret, datetime.now(UTC) + timedelta(minutes=10))
    r = api.client.post("/v1/auth/staff-login", json={**body, "code": far})
    assert r.status_code == 401 and r.json()["code"] == "BadCredentials"
    wrong = {**body, "password": "not the password", "code": viewer.next_code()}
    r2 = api.client.post("/v1/auth/staff-login", json=wrong)
    assert r2.status_code == 401 and r2.json()["message"] == r.json()["message"]
    unknown = {**body, "login": "nobody.here"}
    r3 = api.client.post("/v1/auth/staff-login", json=unknown)
    assert r3.status_code == 401 and r3.json()["message"] == r.json()["message"]


def test_repeated_failures_lock_the_user_out_until_reset(
    org: Org,
) -> None:
    api, people = org
    created = add_user(api, "core-admin", "core.guessed", ["view"])
    person = enrol(api, created, as_name="guessed")
    for _ in range(api.rt.settings.staff_lockout_failures):
        wrong = {"login": person.login, "password": "guess " * 3, "code": "000000"}
        assert api.client.post("/v1/auth/staff-login", json=wrong).status_code == 401
    right = {"login": person.login, "password": person.password, "code": person.code()[0]}
    r = api.client.post("/v1/auth/staff-login", json=right)
    assert r.status_code == 429 and r.json()["code"] == "UserLockedOut"
    assert "core.guessed" in r.json()["message"] and r.headers["retry-after"]
    failed = [e for e in _log(api, "auth.staff_login") if e.user == "core.guessed"]
    assert [e.result for e in failed].count("failed") == api.rt.settings.staff_lockout_failures + 1
    assert any("locked_until" in e.details for e in failed)
    # an administrator's reset lifts it (and hands out a new one-time password)
    r = api.as_("core-admin").post("/v1/staff/users/core.guessed/reset", json={"password": True})
    assert r.status_code == 200, r.text
    person.password = r.json()["password"]
    assert r.json()["totp_secret"] is None  # the second factor was kept
    assert staff_login(api, person)["password_change_required"] is True
    # an administrator of another member cannot reach this user
    _ = people


def test_permissions_by_action_and_amount(org: Org) -> None:
    api, _ = org
    small = registered_root(api, "STAFF-PERM-1", 1_000_000 * YUAN)
    large = registered_root(api, "STAFF-PERM-2", 3_000_000 * YUAN)
    r = api.as_("viewer").post(f"/v1/payables/{small}/confirm")
    assert r.status_code == 403 and r.json()["code"] == "MissingPermission"
    assert "payables.confirm" in r.json()["message"] and "core.viewer" in r.json()["message"]
    r = api.as_("clerk").post(f"/v1/payables/{large}/confirm")
    assert r.status_code == 403 and r.json()["code"] == "AmountAboveLimit"
    assert "2,000,000.00 yuan" in r.json()["message"]
    assert "3,000,000.00 yuan" in r.json()["message"]
    r = api.as_("viewer").post(f"/v1/payables/{small}/reject", json={"reason": "not ours"})
    assert r.status_code == 403 and r.json()["code"] == "MissingPermission"
    # reading needs `view`
    r = api.as_("blind").get("/v1/payables")
    assert r.status_code == 403 and r.json()["code"] == "MissingPermission"
    assert api.as_("clerk").get("/v1/payables").status_code == 200
    # webhooks and users are the administrators'
    r = api.as_("clerk").post("/v1/webhooks", json={"url": "https://erp.example/hook"})
    assert r.status_code == 403 and r.json()["code"] == "MissingPermission"


def test_an_api_key_does_what_its_user_may(org: Org) -> None:
    api, _ = org
    r = api.as_("viewer").post("/v1/auth/api-keys", json={"name": "viewer's script"})
    assert r.status_code == 201, r.text
    key = {"Authorization": f"Bearer {r.json()['key']}"}
    root = registered_root(api, "STAFF-KEY-1", 1000 * YUAN)
    assert api.client.get("/v1/payables", headers=key).status_code == 200
    r = api.client.post(f"/v1/payables/{root}/confirm", headers=key)
    assert r.status_code == 403 and r.json()["code"] == "MissingPermission"
    # a user sees and revokes its own keys, not a colleague's; the administrator sees all
    mine = {k["name"] for k in api.as_("viewer").get("/v1/auth/api-keys").json()}
    assert mine == {"viewer's script"}
    everyone = {k["name"] for k in api.as_("core-admin").get("/v1/auth/api-keys").json()}
    assert "viewer's script" in everyone
    created = [e for e in _log(api, "api_key.create") if e.user == "core.viewer"]
    assert len(created) == 1
    # a disabled user's key stops working at once
    r = api.as_("core-admin").patch("/v1/staff/users/core.viewer", json={"status": "disabled"})
    assert r.status_code == 200
    r = api.client.get("/v1/payables", headers=key)
    assert r.status_code == 403 and r.json()["code"] == "UserDisabled"
    assert (
        api.as_("core-admin")
        .patch("/v1/staff/users/core.viewer", json={"status": "active"})
        .status_code
        == 200
    )


def test_the_last_administrator_stays(org: Org) -> None:
    api, _ = org
    r = api.as_("core-admin").patch("/v1/staff/users/core.admin", json={"permissions": ["view"]})
    assert r.status_code == 409 and r.json()["code"] == "LastAdministrator"
    me: dict[str, Any] = api.as_("core-admin").get("/v1/staff/me").json()
    assert "users.admin" in me["permissions"]
