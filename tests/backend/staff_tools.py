"""Staff users for the API tests: the operator makes a member's first administrator, who makes
the rest; each logs in with its password and the authenticator's code, and changes the
one-time password first."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from backend.security import TOTP_STEP_SECONDS, totp_code
from tests.backend.conftest import Api, invoice

PASSWORD = "correct horse battery staple"


@dataclass
class Person:
    """A staff user and its authenticator: each code is good once, so a login takes the first
    step after the last one used (the server takes one step either side of now; a third login
    within a step's 30 seconds waits for the next)."""

    login: str
    secret: str
    password: str
    last_step: int = 0

    def code(self) -> tuple[str, int]:
        now = int(time.time()) // TOTP_STEP_SECONDS
        step = max(now, self.last_step + 1)
        if step > now + 1:
            time.sleep((step - 1) * TOTP_STEP_SECONDS - time.time() + 0.1)
        return totp_code(self.secret, datetime.fromtimestamp(step * TOTP_STEP_SECONDS, UTC)), step

    def next_code(self) -> str:
        """A fresh code, counted as used (for a login meant to succeed or to be refused)."""
        code, self.last_step = self.code()
        return code


def staff_login(api: Api, person: Person) -> dict[str, Any]:
    code, step = person.code()
    r = api.client.post(
        "/v1/auth/staff-login",
        json={"login": person.login, "password": person.password, "code": code},
    )
    assert r.status_code == 200, r.text
    person.last_step = step
    body: dict[str, Any] = r.json()
    return body


def enrol(api: Api, created: dict[str, Any], *, as_name: str) -> Person:
    """Log a new user in, change its one-time password, and register its headers as `as_name`."""
    person = Person(created["login"], created["totp_secret"], created["password"])
    token = staff_login(api, person)["access_token"]
    r = api.client.post(
        "/v1/staff/me/password",
        json={"current_password": person.password, "new_password": PASSWORD},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 204, r.text
    person.password = PASSWORD
    api.headers[as_name] = {"Authorization": f"Bearer {token}"}
    return person


def first_admin(api: Api, member: str, login: str) -> dict[str, Any]:
    r = api.as_("operator").post(
        f"/v1/operator/members/{api.addresses[member]}/staff",
        json={
            "login": login,
            "display_name": f"{login} (administrator)",
            "permissions": ["view", "users.admin"],
        },
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def add_user(
    api: Api, admin: str, login: str, permissions: list[str], amount_limit: int | None = None
) -> dict[str, Any]:
    r = api.as_(admin).post(
        "/v1/staff/users",
        json={
            "login": login,
            "display_name": login.replace(".", " ").title(),
            "permissions": permissions,
            "amount_limit": amount_limit,
        },
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def registered_root(api: Api, number: str, amount: int) -> int:
    """An invoice of tier1 on core, registered on the ledger: its root id."""
    a = api.addresses
    r = api.as_("tier1").post(
        "/v1/invoices?wait=true", json=invoice(a["tier1"], a["core"], number, amount)
    )
    assert r.status_code == 202, r.text
    assert r.json()["transaction"]["status"] == "mined", r.text
    return int(r.json()["invoice"]["root_id"])
