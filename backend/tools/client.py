"""A thin HTTP client of the API for the CLI, the seeding at start-up and the demo story."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from eth_account.signers.local import LocalAccount

from backend.security import TOTP_STEP_SECONDS, sign_message, totp_code


class ApiCallFailed(Exception):
    """The API answered with an unexpected status; carries the call and the error body."""

    def __init__(self, method: str, path: str, status: int, body: Any) -> None:
        code = body.get("code") if isinstance(body, dict) else None
        message = body.get("message") if isinstance(body, dict) else str(body)[:300]
        super().__init__(f"{method} {path} → {status} {code or ''}: {message}")
        self.status = status
        self.code = code
        self.body = body


@dataclass
class Call:
    """What was sent and what came back (the demo prints these)."""

    method: str
    path: str
    status: int
    body: Any


@dataclass
class ApiClient:
    http: httpx.Client
    on_call: Callable[[Call], None] | None = None
    tokens: dict[str, str] = field(default_factory=dict)

    def request(
        self,
        method: str,
        path: str,
        *,
        as_: str | None = None,
        token: str | None = None,
        json: Any = None,
        params: dict[str, Any] | None = None,
        expect: tuple[int, ...] = (200, 201, 202),
    ) -> Any:
        headers = {}
        bearer = token or (self.tokens[as_] if as_ else None)
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        resp = self.http.request(method, path, json=json, params=params, headers=headers)
        try:
            body: Any = resp.json()
        except ValueError:
            body = resp.text
        if self.on_call is not None:
            self.on_call(Call(method, path, resp.status_code, body))
        if resp.status_code not in expect:
            raise ApiCallFailed(method, path, resp.status_code, body)
        return body

    def get(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Any:
        return self.request("POST", path, **kw)

    def put(self, path: str, **kw: Any) -> Any:
        return self.request("PUT", path, **kw)

    def login(self, account: LocalAccount) -> str:
        """A bearer token for `account`, by signing the server's challenge (EIP-191)."""
        ch = self.post("/v1/auth/challenge", json={"address": account.address}, expect=(200,))
        body = self.post(
            "/v1/auth/login",
            json={
                "challenge_id": ch["challenge_id"],
                "signature": sign_message(account, ch["message"]),
            },
            expect=(200,),
        )
        return str(body["access_token"])

    def staff_login(
        self, login: str, password: str, totp_secret: str, *, at: datetime | None = None
    ) -> dict[str, Any]:
        """Log a staff user in with its password and its authenticator's code (for `at`, by
        default now)."""
        code = totp_code(totp_secret, at)
        body: dict[str, Any] = self.post(
            "/v1/auth/staff-login",
            json={"login": login, "password": password, "code": code},
            expect=(200,),
        )
        return body

    def enrol(self, created: dict[str, Any], *, as_: str, password: str) -> None:
        """A new staff user's first login: the one-time password replaced by `password`; its
        token is kept as `as_`."""
        # the previous step's code (the server takes one step either side): the person's
        # current code stays unused, so it logs in at once with what its app shows
        login = self.staff_login(
            created["login"],
            created["password"],
            created["totp_secret"],
            at=datetime.now(UTC) - timedelta(seconds=TOTP_STEP_SECONDS),
        )
        token = str(login["access_token"])
        self.post(
            "/v1/staff/me/password",
            token=token,
            json={"current_password": created["password"], "new_password": password},
            expect=(204,),
        )
        self.tokens[as_] = token

    def approve(self, request: dict[str, Any], *, as_: str) -> dict[str, Any]:
        """Approve a pending request as exactly what it is now; with wait, once mined."""
        pending = self.get(f"/v1/approvals/{request['id']}", as_=as_)
        decided: dict[str, Any] = self.post(
            f"/v1/approvals/{request['id']}/approve?wait=true",
            as_=as_,
            json={"action_hash": pending["action_hash"]},
        )
        tx: dict[str, Any] = decided["request"]
        return tx


def mined(tx: dict[str, Any]) -> dict[str, Any]:
    """The transaction request, checked to be mined (raise with the ledger's error if not)."""
    if tx.get("status") != "mined":
        raise ApiCallFailed(
            "TX",
            str(tx.get("action")),
            409,
            {
                "code": tx.get("error_code") or tx.get("status"),
                "message": tx.get("error_message") or "transaction not mined",
            },
        )
    return tx


#: The demo core enterprise's people: its administrator (made by the operator), an
#: accounts-payable clerk who prepares, and a treasury manager who approves.
DEMO_STAFF: dict[str, tuple[str, list[str]]] = {
    "admin": ("Zhang Min (administrator)", ["view", "users.admin"]),
    "clerk": ("Li Wei (accounts payable)", ["view", "payables.confirm", "payables.repay"]),
    "manager": ("Wang Fang (treasury manager)", ["view", "payables.confirm", "payables.repay"]),
}


def demo_staff(
    api: ApiClient, *, member: str, prefix: str, operator: str, password: Callable[[], str]
) -> dict[str, dict[str, str]]:
    """The demo core enterprise's people, logged in (tokens `<prefix>.<role>`), each with a
    password from `password()`: name → login, display name, password, TOTP secret."""
    people: dict[str, dict[str, str]] = {}
    for role, (display, permissions) in DEMO_STAFF.items():
        body = {"login": f"{prefix}.{role}", "display_name": display, "permissions": permissions}
        if role == "admin":
            path, as_ = f"/v1/operator/members/{member}/staff", operator
        else:
            path, as_ = "/v1/staff/users", f"{prefix}.admin"
        created = api.post(path, as_=as_, json=body, expect=(201,))
        chosen = password()
        api.enrol(created, as_=f"{prefix}.{role}", password=chosen)
        people[role] = {
            "login": created["login"],
            "display_name": display,
            "password": chosen,
            "totp_secret": created["totp_secret"],
        }
    return people


#: The demo consortium's directory entries: legal name (Chinese, as registered) and short name.
DEMO_NAMES: dict[str, tuple[str, str]] = {
    "core": ("华东汽车制造有限公司", "East China Motors"),
    "tier1": ("苏州精工零部件有限公司", "Suzhou Precision Parts"),
    "tier2": ("无锡金属材料有限公司", "Wuxi Metals"),
    "bank": ("浦江商业银行股份有限公司", "Pujiang Commercial Bank"),
    "regulator": ("地方金融监督管理局", "Financial Regulator"),
    "auditor": ("立信会计师事务所", "Lixin Auditors"),
}


def demo_profile(name: str) -> dict[str, str]:
    """The directory entry of demo member `name` (a key of DEMO_NAMES)."""
    legal, short = DEMO_NAMES[name]
    return {"legal_name": legal, "short_name": short, "contact_email": f"{name}@example.com"}


def invoice_body(
    seller: str, buyer: str, number: str, amount: int, *, due: date | None = None, days: int = 90
) -> dict[str, Any]:
    """A `POST /v1/invoices` body: one line of steel coil, issued today, due on `due` (default:
    `days` from today)."""
    today = datetime.now(UTC).date()
    return {
        "number": number,
        "seller": seller,
        "buyer": buyer,
        "amount": amount,
        "currency": "CNY",
        "issue_date": today.isoformat(),
        "due_date": (due or today + timedelta(days=days)).isoformat(),
        "line_items": [
            {"description": "steel coil", "quantity": 1, "unit_price": amount, "amount": amount}
        ],
    }
