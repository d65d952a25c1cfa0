"""A thin HTTP client of the API for the CLI, the seeding at start-up and the demo story."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from eth_account.signers.local import LocalAccount

from backend.security import sign_message


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
