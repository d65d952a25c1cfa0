"""The authorisation matrix for people: a staff user holding its member's role but not the
permission an action needs is refused with that permission named, for every write; reading
needs `view`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from backend.permissions import ACTION_PERMISSIONS, OPERATOR_PERMISSION
from backend.settings import BackendSettings
from tests.backend.conftest import Api, invoice, make_api
from tests.backend.staff_tools import add_user, enrol, first_admin

MEMBERS = ("operator", "core", "tier1", "bank", "regulator")

# (method, url, body, member whose user tries it, the action whose permission it needs)
WRITES: list[tuple[str, str, Any, str, str]] = [
    ("POST", "/v1/invoices", "invoice", "tier1", "root.register"),
    ("POST", "/v1/invoices/batch", {"invoices": ["invoice"]}, "tier1", "root.register"),
    ("POST", "/v1/invoices/reclaim-key", {"number": "P-1"}, "tier1", "root.reclaim_key"),
    ("POST", "/v1/receivables/1/cancel", None, "tier1", "root.cancel"),
    ("POST", "/v1/receivables/1/refuse", {"reason": "x"}, "tier1", "root.refuse"),
    ("POST", "/v1/payables", "payable", "core", "root.issue"),
    ("POST", "/v1/payables/1/confirm", None, "core", "root.confirm"),
    ("POST", "/v1/payables/1/reject", {"reason": "x"}, "core", "root.reject"),
    ("POST", "/v1/payables/1/repay", {}, "core", "root.repay"),
    ("POST", "/v1/pieces/1/split", {"parts": []}, "tier1", "piece.split"),
    ("POST", "/v1/pieces/1/transfer", {"to": "{bank}", "amount": 1}, "tier1", "piece.transfer"),
    ("POST", "/v1/pieces/1/claim", None, "bank", "piece.claim"),
    ("POST", "/v1/offers", {"piece_id": 1, "price": 1}, "bank", "offer.post"),
    ("POST", "/v1/offers/1/cancel", None, "bank", "offer.cancel"),
    ("POST", "/v1/offers/1/accept", None, "tier1", "offer.accept"),
    ("POST", "/v1/regulator/roots/1/freeze", {"reason": "x"}, "regulator", "root.freeze"),
    ("POST", "/v1/receivables/1/close", None, "operator", "root.close"),
    ("POST", "/v1/operator/cash/mint", {"account": "{bank}", "amount": 1}, "operator", "cash.mint"),
    ("POST", "/v1/operator/pause", None, "operator", "ledger.pause"),
    (
        "PUT",
        "/v1/operator/members/{core}/credit-limit",
        {"credit_limit": 1},
        "operator",
        "member.credit_limit",
    ),
]
# writes off the ledger, with the permission they need
OFF_LEDGER: list[tuple[str, str, Any, str, str]] = [
    (
        "POST",
        "/v1/financing-requests",
        {"piece_id": 1, "amount_wanted": 1, "max_rate_bps": 1},
        "tier1",
        "offers.accept",
    ),
    ("POST", "/v1/webhooks", {"url": "https://erp.example/h"}, "bank", "users.admin"),
    ("PUT", "/v1/staff/policies/root.confirm", {"approvers": 0}, "core", "users.admin"),
    (
        "POST",
        "/v1/staff/users",
        {"login": "p.x", "display_name": "x", "permissions": []},
        "core",
        "users.admin",
    ),
    ("PUT", "/v1/operator/members/{core}/profile", {"legal_name": "x"}, "operator", "operate"),
]


@pytest.fixture(scope="module")
def viewers() -> Iterator[Api]:
    """For each member, a staff user that may only view (`<member>-viewer`)."""
    settings = BackendSettings(
        profile="embedded", wait_timeout_seconds=30, login_lockout_failures=100
    )
    for api in make_api(settings):
        for member in MEMBERS:
            enrol(api, first_admin(api, member, f"{member}.admin"), as_name=f"{member}-admin")
            created = add_user(api, f"{member}-admin", f"{member}.viewer", ["view"])
            enrol(api, created, as_name=f"{member}-viewer")
        yield api


def _fill(api: Api, value: Any) -> Any:
    a = api.addresses
    if value in ("invoice", "payable"):
        return invoice(a["tier1"], a["core"], "PERM-1", 1000)
    if isinstance(value, str):
        return value.format(**a)
    if isinstance(value, dict):
        return {k: _fill(api, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(api, v) for v in value]
    return value


def _send(api: Api, who: str, method: str, url: str, body: Any) -> Any:
    client = api.as_(who)
    target = url.format(**api.addresses)
    send = client.put if method == "PUT" else client.post
    return send(target, json=_fill(api, body))


@pytest.mark.parametrize(
    ("method", "url", "body", "member", "action"),
    [pytest.param(*w, id=f"{w[3]}-{w[1]}") for w in WRITES],
)
def test_a_write_needs_its_permission(
    viewers: Api, method: str, url: str, body: Any, member: str, action: str
) -> None:
    needed = str(ACTION_PERMISSIONS.get(action, OPERATOR_PERMISSION))
    r = _send(viewers, f"{member}-viewer", method, url, body)
    assert r.status_code == 403, r.text
    assert r.json()["code"] == "MissingPermission"
    assert r.json()["details"]["permission"] == needed
    assert f"{member}.viewer" in r.json()["message"] and needed in r.json()["message"]


@pytest.mark.parametrize(
    ("method", "url", "body", "member", "needed"),
    [pytest.param(*w, id=f"{w[3]}-{w[1]}") for w in OFF_LEDGER],
)
def test_an_off_ledger_write_needs_its_permission(
    viewers: Api, method: str, url: str, body: Any, member: str, needed: str
) -> None:
    r = _send(viewers, f"{member}-viewer", method, url, body)
    assert r.status_code == 403, r.text
    assert r.json()["code"] == "MissingPermission"
    assert r.json()["details"]["permission"] == needed


def test_the_same_writes_pass_the_check_with_the_permission(viewers: Api) -> None:
    """The control: with the permission the refusal is the ledger's own rule, not ours."""
    created = add_user(viewers, "core-admin", "core.confirmer", ["view", "payables.confirm"])
    enrol(viewers, created, as_name="core-confirmer")
    r = viewers.as_("core-confirmer").post("/v1/payables/999/confirm")
    assert r.status_code == 404, r.text


def test_reading_needs_view(viewers: Api) -> None:
    created = add_user(viewers, "bank-admin", "bank.blind", ["offers.post"])
    enrol(viewers, created, as_name="bank-blind")
    for url in ("/v1/holdings", "/v1/me/cash", "/v1/notifications"):
        r = viewers.as_("bank-blind").get(url)
        assert r.status_code == 403 and r.json()["details"]["permission"] == "view", url
    assert viewers.as_("bank-viewer").get("/v1/holdings").status_code == 200
