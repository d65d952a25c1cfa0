"""Who may call what: every role x endpoint pair that must be refused, table-driven."""

from __future__ import annotations

from typing import Any

import pytest

from tests.backend.conftest import CREDIT, YUAN, Api, invoice

ROLES = ("operator", "core", "tier1", "bank", "regulator", "auditor")

# (method, url template, body template, roles allowed past the role check)
ENDPOINTS: list[tuple[str, str, Any, set[str]]] = [
    ("POST", "/v1/operator/members", {"legal_id": "X", "roles": ["SUPPLIER"]}, {"operator"}),
    ("PUT", "/v1/operator/members/{core}/credit-limit", {"credit_limit": 1}, {"operator"}),
    ("POST", "/v1/operator/cash/mint", {"account": "{bank}", "amount": 1}, {"operator"}),
    ("POST", "/v1/operator/pause", None, {"operator"}),
    ("GET", "/v1/operator/members", None, {"operator"}),
    ("POST", "/v1/invoices", "invoice", {"tier1"}),
    ("POST", "/v1/invoices/batch", {"invoices": ["invoice"]}, {"tier1"}),
    ("POST", "/v1/payables", "payable", {"core"}),
    ("GET", "/v1/payables", None, {"core"}),
    ("POST", "/v1/payables/1/confirm", None, {"core"}),
    ("POST", "/v1/payables/1/repay", {}, {"core"}),
    ("POST", "/v1/receivables/1/refuse", {"reason": "x"}, {"tier1"}),
    ("POST", "/v1/receivables/1/close", None, {"operator"}),
    ("POST", "/v1/invoices/reclaim-key", {"number": "AUTHZ-3"}, {"tier1"}),
    ("POST", "/v1/operator/members/{tier1}/activation", None, {"operator"}),
    (
        "POST",
        "/v1/pieces/1/split",
        {"parts": [{"to": "{tier1}", "amount": 1}, {"to": "{tier1}", "amount": 1}]},
        {"tier1", "bank"},
    ),
    ("GET", "/v1/quote?piece_id=1&rate_bps=100", None, {"bank"}),
    ("POST", "/v1/offers", {"piece_id": 1, "price": 1}, {"bank"}),
    ("POST", "/v1/offers/1/cancel", None, {"bank"}),
    ("GET", "/v1/holdings", None, {"tier1", "bank"}),
    ("POST", "/v1/regulator/roots/1/freeze", {"reason": "x"}, {"regulator"}),
    ("GET", "/v1/audit/events", None, {"auditor", "regulator"}),
    ("GET", "/v1/audit/aging", None, {"auditor", "regulator"}),
    ("GET", "/v1/audit/action-log", None, {"auditor", "regulator"}),
    ("GET", "/v1/audit/exposure", None, {"auditor", "regulator"}),
    ("GET", "/v1/audit/holdings", None, {"auditor", "regulator"}),
    ("GET", "/v1/members", None, {"auditor", "regulator"}),
]
CASES = [
    pytest.param(method, url, body, role, id=f"{role}-{method}-{url}")
    for method, url, body, allowed in ENDPOINTS
    for role in ROLES
    if role not in allowed
]


def _fill(api: Api, value: Any) -> Any:
    a = api.addresses
    if value == "invoice":
        return invoice(a["tier1"], a["core"], "AUTHZ-1", 1000 * YUAN)
    if value == "payable":
        return invoice(a["tier1"], a["core"], "AUTHZ-2", 1000 * YUAN)
    if isinstance(value, str):
        return value.format(**a)
    if isinstance(value, dict):
        return {k: _fill(api, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(api, v) for v in value]
    return value


@pytest.mark.parametrize(("method", "url", "body", "role"), CASES)
def test_role_is_refused(api: Api, method: str, url: str, body: Any, role: str) -> None:
    client = api.as_(role)
    target = url.format(**api.addresses)
    if method == "GET":
        r = client.get(target)
    elif method == "PUT":
        r = client.put(target, json=_fill(api, body))
    else:
        r = client.post(target, json=_fill(api, body))
    assert r.status_code == 403, r.text
    assert r.json()["code"] == "MissingRole"


def test_no_credentials_is_401(api: Api) -> None:
    r = api.client.get("/v1/me")
    assert r.status_code == 401
    assert r.json() == {
        "code": "Unauthenticated",
        "message": "log in (bearer token) or send an API key",
        "details": {},
    }


def test_revoked_api_key_is_refused(api: Api) -> None:
    # key management needs a login: the auditor logs in with its own key
    created = api.as_("auditor").post("/v1/auth/api-keys", json={"name": "ci"}).json()
    headers = {"Authorization": f"Bearer {created['key']}"}
    assert api.client.get("/v1/me", headers=headers).status_code == 200
    assert api.as_("auditor").delete(f"/v1/auth/api-keys/{created['id']}").status_code == 204
    r = api.client.get("/v1/me", headers=headers)
    assert r.status_code == 401 and r.json()["code"] == "InvalidApiKey"


def test_challenge_is_single_use(api: Api) -> None:
    from backend.security import sign_message
    from chain.connection import dev_account

    acct = dev_account(1)  # the auditor's own key
    ch = api.client.post("/v1/auth/challenge", json={"address": acct.address}).json()
    body = {"challenge_id": ch["challenge_id"], "signature": sign_message(acct, ch["message"])}
    assert api.client.post("/v1/auth/login", json=body).status_code == 200
    again = api.client.post("/v1/auth/login", json=body)
    assert again.status_code == 401 and again.json()["code"] == "ChallengeUsed"


def test_signature_by_another_key_is_refused(api: Api) -> None:
    from backend.security import sign_message
    from chain.connection import dev_account

    ch = api.client.post("/v1/auth/challenge", json={"address": dev_account(1).address}).json()
    body = {
        "challenge_id": ch["challenge_id"],
        "signature": sign_message(dev_account(2), ch["message"]),
    }
    r = api.client.post("/v1/auth/login", json=body)
    assert r.status_code == 401 and r.json()["code"] == "BadSignature"


TOO_BIG = 2**64  # beyond any database integer: refused as input, never sent to the database


@pytest.mark.parametrize(
    ("who", "method", "url"),
    [
        ("bank", "POST", f"/v1/financing-requests/{-TOO_BIG}/cancel"),
        ("bank", "POST", f"/v1/financing-requests/{TOO_BIG}/cancel"),
        ("tier1", "GET", f"/v1/invoices/{TOO_BIG}"),
        ("tier1", "GET", f"/v1/pieces?root_id={TOO_BIG}"),
        ("tier1", "GET", f"/v1/invoices?after={TOO_BIG}"),
        ("auditor", "GET", f"/v1/audit/events?cursor={TOO_BIG}"),
        ("auditor", "GET", f"/v1/audit/events?from_block={TOO_BIG}"),
        ("auditor", "GET", f"/v1/audit/events?to_block={TOO_BIG}"),
        ("auditor", "GET", f"/v1/audit/holdings?block={TOO_BIG}"),
        ("auditor", "GET", f"/v1/audit/holdings?cursor={TOO_BIG}"),
    ],
)
def test_an_integer_beyond_the_databases_is_a_422(
    api: Api, who: str, method: str, url: str
) -> None:
    r = api.as_(who).get(url) if method == "GET" else api.as_(who).post(url)
    assert r.status_code == 422 and r.json()["code"] == "ValidationError", r.text


def test_someone_elses_piece_is_404(api: Api) -> None:
    a = api.addresses
    r = api.as_("core").post(
        "/v1/payables?wait=true", json=invoice(a["tier1"], a["core"], "VIS-1", 5000 * YUAN)
    )
    assert r.status_code == 202, r.text
    root = r.json()["invoice"]["root_id"]
    assert api.as_("tier1").get(f"/v1/pieces/{root}").status_code == 200
    assert api.as_("auditor").get(f"/v1/pieces/{root}").status_code == 200
    for who in ("tier2", "bank"):
        r = api.as_(who).get(f"/v1/pieces/{root}")
        assert r.status_code == 404 and r.json()["code"] == "NotFound"
    # and a write on it is a 404 too, not a hint that it exists
    r = api.as_("tier2").post(f"/v1/pieces/{root}/transfer", json={"to": a["tier2"]})
    assert r.status_code == 404


def test_amount_limits(api: Api) -> None:
    a = api.addresses
    too_big = invoice(a["tier1"], a["core"], "BIG-1", 2**96)
    too_big["line_items"] = []
    r = api.as_("tier1").post("/v1/invoices", json=too_big)
    assert r.status_code == 422
    far = invoice(a["tier1"], a["core"], "FAR-1", 100, days=11 * 365)
    r = api.as_("tier1").post("/v1/invoices", json=far)
    assert r.status_code == 422


def test_chain_refusal_predicted_from_the_mirror_is_409(api: Api) -> None:
    a = api.addresses
    r = api.as_("core").post(
        "/v1/payables?wait=true", json=invoice(a["tier1"], a["core"], "DUP-1", 5000 * YUAN)
    )
    assert r.status_code == 202, r.text
    again = api.as_("core").post(
        "/v1/payables", json=invoice(a["tier1"], a["core"], "DUP-1", 5000 * YUAN)
    )
    assert again.status_code == 409
    assert again.json()["code"] == "ReceivablesInvoiceKeyUsed"


def test_credit_limit_exceeded_is_refused_on_issue_and_on_confirm(api: Api) -> None:
    a = api.addresses
    over = CREDIT + 1
    r = api.as_("core").post("/v1/payables", json=invoice(a["tier1"], a["core"], "OVER-1", over))
    assert r.status_code == 409 and r.json()["code"] == "ReceivablesCreditLimitExceeded"
    assert r.json()["details"]["creditLimit"] == CREDIT and r.json()["details"]["amount"] == over
    made = api.as_("tier1").post(
        "/v1/invoices?wait=true", json=invoice(a["tier1"], a["core"], "OVER-2", over)
    )
    assert made.status_code == 202, made.text
    root = made.json()["invoice"]["root_id"]
    r = api.as_("core").post(f"/v1/payables/{root}/confirm")
    assert r.status_code == 409 and r.json()["code"] == "ReceivablesCreditLimitExceeded"
    assert r.json()["details"]["amount"] == over


def test_suspended_member_is_refused_everywhere(fresh_api: Api) -> None:
    api = fresh_api
    r = api.as_("operator").put(
        f"/v1/operator/members/{api.addresses['tier2']}/status?wait=true",
        json={"status": "suspended"},
    )
    assert r.status_code == 202, r.text
    for url in ("/v1/me", "/v1/pieces", "/v1/holdings"):
        r = api.as_("tier2").get(url)
        assert r.status_code == 403 and r.json()["code"] == "MemberSuspended"
