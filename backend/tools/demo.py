"""The demo story over HTTP: a consortium is onboarded, an invoice is registered, confirmed,
split to a tier-2 supplier who discounts its piece with the bank, the core enterprise repays in
two instalments, the keeper pays every holder, and the auditor's reports close the books.

Every figure is checked against the domain rules; a wrong one raises `StoryFailed`."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from eth_account.signers.local import LocalAccount
from rich.console import Console
from rich.table import Table

from backend.tools.client import (
    ApiCallFailed,
    ApiClient,
    Call,
    demo_profile,
    demo_staff,
    invoice_body,
    mined,
)
from chain.pricing import days_to_maturity, discount_price

YUAN = 100
CASH = 5_000_000 * YUAN
CREDIT = 10_000_000 * YUAN
FACE = 1_000_000 * YUAN
KEPT, PASSED = 600_000 * YUAN, 400_000 * YUAN
FIRST_INSTALMENT = 300_000 * YUAN
RATE_BPS = 600
TENOR_DAYS = 30

# name -> (roles, credit limit, starting cash)
CAST: dict[str, tuple[list[str], int, int]] = {
    "core": (["CORE_ENTERPRISE"], CREDIT, CASH),
    "tier1": (["SUPPLIER"], 0, 0),
    "tier2": (["SUPPLIER"], 0, 0),
    "bank": (["FINANCIER"], 0, CASH),
    "auditor": (["AUDITOR"], 0, 0),
}


class StoryFailed(Exception):
    """A figure is not what the domain rules say it must be (or a step was refused)."""


@dataclass
class Story:
    api: ApiClient
    console: Console
    chain_rpc_url: str | None = None
    settle_timeout: float = 60.0
    run: str = field(default_factory=lambda: secrets.token_hex(3).upper())
    addresses: dict[str, str] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    step_no: int = 0
    escrow: str = ""
    staff: str = ""  # the prefix of the core enterprise's staff logins

    # -- output ----------------------------------------------------------------------------

    def step(self, title: str) -> None:
        self.step_no += 1
        self.console.print(f"\n[bold]{self.step_no}. {title}[/bold]")

    def show(self, call: Call) -> None:
        self.calls.append(call)
        if call.path.startswith("/v1/auth/"):
            return
        tx = _tx_of(call.body)
        shown = f"   [cyan]{call.method} {call.path}[/cyan] → {call.status}"
        if tx and tx.get("tx_hash"):
            shown += f"  tx {tx['tx_hash']} (block {tx.get('block_number')})"
        self.console.print(shown)

    def check(self, what: str, actual: Any, expected: Any) -> None:
        if actual != expected:
            raise StoryFailed(f"{what}: expected {expected!r}, got {actual!r}")
        self.console.print(f"   [green]✓[/green] {what} = {_fmt(actual)}")

    def balances(self) -> dict[str, int]:
        rows = self.api.get(
            "/v1/ops/balances",
            as_="auditor",
            params={"address": [*self.addresses.values(), self.escrow]},
        )
        by_address = {r["address"].lower(): int(r["balance"]) for r in rows}
        table = Table(title="cash balances (mirror)", title_justify="left")
        table.add_column("member")
        table.add_column("yuan", justify="right")
        result = {}
        for name, address in self.addresses.items():
            result[name] = by_address.get(address.lower(), 0)
            table.add_row(name, _fmt(result[name]))
        result["escrow"] = by_address.get(self.escrow.lower(), 0)
        table.add_row("[dim]ledger escrow (all receivables)[/dim]", _fmt(result["escrow"]))
        self.console.print(table)
        return result

    # -- chain clock -----------------------------------------------------------------------

    def chain(self) -> dict[str, Any]:
        body: dict[str, Any] = self.api.get("/v1/ops/chain", as_="auditor")
        return body

    def advance_to(self, timestamp: int) -> None:
        now = int(self.chain()["timestamp"])
        seconds = max(timestamp - now, 1)
        if self.chain()["dev_chain"]:
            self.api.post("/v1/ops/time/advance", as_="operator", json={"seconds": seconds})
            return
        if not self.chain_rpc_url:
            raise StoryFailed(
                "the due date is in the future and this chain's clock cannot be moved over the "
                "API; pass --chain-rpc-url of an anvil node"
            )
        for method, params in (("evm_increaseTime", [seconds]), ("evm_mine", [])):
            resp = httpx.post(
                self.chain_rpc_url,
                json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params},
                timeout=30,
            ).json()
            if resp.get("error"):
                raise StoryFailed(f"{method} failed: {resp['error']}")
        self.console.print(f"   [cyan]{self.chain_rpc_url}[/cyan] evm_increaseTime({seconds})")

    # -- the story -------------------------------------------------------------------------

    def onboard(self, operator: LocalAccount) -> None:
        self.step(f"the operator onboards a consortium (run {self.run}) and issues cash")
        self.api.tokens["operator"] = self.api.login(operator)
        for name, (roles, credit, cash) in CAST.items():
            body: dict[str, Any] = {
                "legal_id": f"DEMO-{self.run}-{name}",
                "roles": roles,
                "profile": demo_profile(name),
            }
            if credit:
                body["credit_limit"] = credit
            created = self.api.post("/v1/operator/members?wait=true", as_="operator", json=body)
            mined(created["transaction"])
            self.addresses[name] = created["address"]
            # each member exchanges the one-time code the operator handed it for its own key
            activated = self.api.post(
                "/v1/auth/activate", json={"code": created["activation"]["code"]}
            )
            self.api.tokens[name] = activated["key"]
            if cash:
                mined(
                    self.api.post(
                        "/v1/operator/cash/mint?wait=true",
                        as_="operator",
                        json={"account": created["address"], "amount": cash},
                    )
                )
        self.step("the core enterprise's people: an administrator, a clerk and a manager")
        demo_staff(
            self.api,
            member=self.addresses["core"],
            prefix=f"demo{self.run.lower()}",
            operator="operator",
            password=lambda: secrets.token_urlsafe(12),
        )
        self.staff = f"demo{self.run.lower()}"
        policies = self.api.get("/v1/staff/policies", as_=f"{self.staff}.admin")
        confirm = next(p for p in policies if p["action"] == "root.confirm")
        self.check("approvers a confirmation needs", confirm["approvers"], 1)
        self.escrow = str(self.chain()["receivables"])
        start = self.balances()
        for name in CAST:
            self.check(f"{name} starting cash", start[name], CAST[name][2])

    def tell(self, operator: LocalAccount) -> dict[str, Any]:
        self.onboard(operator)
        a, api = self.addresses, self.api

        self.step("tier-1 supplier registers invoice on the core enterprise (1,000,000.00)")
        chain_now = int(self.chain()["timestamp"])
        due_day = max(datetime.now(UTC).date(), _day(chain_now)) + timedelta(days=TENOR_DAYS)
        body = api.post(
            "/v1/invoices?wait=true",
            as_="tier1",
            json=invoice_body(a["tier1"], a["core"], f"INV-{self.run}-0001", FACE, due=due_day),
        )
        mined(body["transaction"])
        root = int(body["invoice"]["root_id"])
        self.check("invoice status", body["invoice"]["status"], "registered")

        self.step("the core enterprise's clerk confirms it (确权); its manager approves")
        clerk, manager = f"{self.staff}.clerk", f"{self.staff}.manager"
        made = api.post(f"/v1/payables/{root}/confirm?wait=true", as_=clerk)
        self.check("the confirmation waits for its approver", made["status"], "pending_approval")
        mined(api.approve(made, as_=manager))
        credit = api.get("/v1/payables/credit", as_="core")
        self.check("core credit used", credit["credit_used"], FACE)
        self.check("core credit available", credit["available"], CREDIT - FACE)

        self.step("tier 1 keeps 600,000.00 and splits 400,000.00 off to tier 2")
        tx = mined(
            api.post(
                f"/v1/pieces/{root}/split?wait=true",
                as_="tier1",
                json={
                    "parts": [
                        {"to": a["tier1"], "amount": KEPT},
                        {"to": a["tier2"], "amount": PASSED},
                    ]
                },
            )
        )
        kept, passed = (int(i) for i in tx["result"]["child_ids"])
        held = api.get("/v1/pieces", as_="tier2", params={"held": True})
        self.check("tier-2 holds", [(p["piece_id"], p["amount"]) for p in held], [(passed, PASSED)])

        self.step("tier 2 discounts its piece with the bank at 6 %/yr (360-day basis)")
        api.post(
            "/v1/financing-requests",
            as_="tier2",
            json={"piece_id": passed, "amount_wanted": 390_000 * YUAN, "max_rate_bps": 800},
        )
        before = int(self.chain()["timestamp"])
        offer_tx = mined(
            api.post(
                "/v1/offers?wait=true", as_="bank", json={"piece_id": passed, "rate_bps": RATE_BPS}
            )
        )
        after = int(self.chain()["timestamp"])
        offer = api.get(f"/v1/offers/{offer_tx['result']['offer_id']}", as_="bank")
        due = _midnight(due_day)
        allowed = {
            discount_price(PASSED, rate_bps=RATE_BPS, days=days_to_maturity(now=t, due_date=due))
            for t in (before, after)
        }
        price = int(offer["price"])
        if price not in allowed:
            raise StoryFailed(f"offer price {price} is not the discounted price {sorted(allowed)}")
        self.console.print(f"   [green]✓[/green] offer price = {_fmt(price)} (discounted)")
        mined(api.post(f"/v1/offers/{offer['offer_id']}/accept?wait=true", as_="tier2"))
        cash = self.balances()
        self.check("tier-2 cash after the sale", cash["tier2"], price)
        self.check("bank cash after the purchase", cash["bank"], CASH - price)

        self.step("the core enterprise repays 300,000.00 early")
        made = api.post(
            f"/v1/payables/{root}/repay?wait=true", as_=clerk, json={"amount": FIRST_INSTALMENT}
        )
        tx = mined(api.approve(made, as_=manager))
        self.check("repaid so far", tx["result"]["total_repaid"], FIRST_INSTALMENT)

        self.step(f"{TENOR_DAYS} days later, at the due date, it repays the rest")
        self.advance_to(due + 1)
        made = api.post(f"/v1/payables/{root}/repay?wait=true", as_=clerk, json={})
        tx = mined(api.approve(made, as_=manager))
        self.check("repaid in total", tx["result"]["total_repaid"], FACE)

        self.step("the keeper distributes the repayment to every holder")
        report = api.post("/v1/ops/keeper/run", as_="operator")
        self.console.print(f"   keeper round: {report}")
        tree = self._settled(root)
        self.check("receivable status", tree["root"]["status"], "settled")
        pieces = {p["piece_id"]: p for p in _walk(tree["pieces"])}
        for piece_id, amount in ((kept, KEPT), (passed, PASSED)):
            self.check(f"piece #{piece_id} paid out", pieces[piece_id]["paid_out"], amount)
        cash = self.balances()
        self.check("tier-1 cash (its kept piece)", cash["tier1"], KEPT)
        self.check("tier-2 cash (the sale)", cash["tier2"], price)
        self.check("bank cash (bought piece paid at face)", cash["bank"], CASH - price + PASSED)
        self.check("core cash", cash["core"], CASH - FACE)
        credit = api.get("/v1/payables/credit", as_="core")
        self.check("core credit used after settlement", credit["credit_used"], 0)

        self.step("the auditor's reports")
        exposure = api.get("/v1/audit/exposure", as_="auditor")
        ours = [d for d in exposure["by_debtor"] if d["debtor"].lower() == a["core"].lower()]
        self.check("exposure to our core enterprise", ours, [])
        aging = api.get("/v1/audit/aging", as_="auditor")
        self.check(
            "our receivable in the aging report",
            [r for r in aging["receivables"] if r["root_id"] == root],
            [],
        )
        recon = api.get("/v1/audit/reconciliation", as_="auditor")
        self.check("reconciliation mismatches", recon["mismatches"], [])
        self.console.print(
            f"   chain {recon['chain_id']} at block {recon['block']}: checked {recon['checked']}"
        )
        self.statements(cash)
        self.console.print("\n[bold green]the story checks out[/bold green]")
        return {"root": root, "pieces": [kept, passed], "price": price, "cash": cash}

    def statements(self, cash: dict[str, int]) -> None:
        """Each party's account statement: its sums reconcile with the mirror's balances."""
        self.step("each party's account statement")
        table = Table(title="account statements", title_justify="left")
        for column in ("member", "movements", "opening", "in", "out", "closing"):
            table.add_column(column, justify="left" if column == "member" else "right")
        reasons: dict[str, list[str]] = {}
        for name in ("core", "tier1", "tier2", "bank"):
            st = self.api.get("/v1/me/statement", as_=name)
            moves = st["movements"]
            table.add_row(
                name,
                str(st["count"]),
                _fmt(st["opening_balance"]),
                _fmt(st["total_in"]),
                _fmt(st["total_out"]),
                _fmt(st["closing_balance"]),
            )
            summed = st["opening_balance"] + sum(m["amount"] for m in moves)
            if summed != st["closing_balance"] or (moves and moves[-1]["balance"] != summed):
                raise StoryFailed(f"{name}'s statement does not add up: {st}")
            if st["closing_balance"] != cash[name]:
                raise StoryFailed(
                    f"{name}'s closing balance {st['closing_balance']} is not its cash {cash[name]}"
                )
            reasons[name] = [m["reason"] for m in moves]
        self.console.print(table)
        for name, lines in reasons.items():
            self.console.print(f"   {name}: " + "; ".join(lines))
        self.console.print("   [green]✓[/green] opening + movements = closing = cash, for each")

    def _settled(self, root: int) -> dict[str, Any]:
        deadline = time.monotonic() + self.settle_timeout
        while True:
            tree: dict[str, Any] = self.api.get(f"/v1/audit/roots/{root}", as_="auditor")
            if tree["root"]["status"] == "settled" or time.monotonic() > deadline:
                return tree
            time.sleep(0.5)


def run_story(
    http: httpx.Client,
    *,
    operator: LocalAccount,
    console: Console | None = None,
    chain_rpc_url: str | None = None,
    settle_timeout: float = 60.0,
) -> dict[str, Any]:
    """Tell the story against the API behind `http`; raises StoryFailed on any wrong figure."""
    console = console or Console()
    story = Story(ApiClient(http), console, chain_rpc_url, settle_timeout)
    story.api.on_call = story.show
    try:
        return story.tell(operator)
    except ApiCallFailed as exc:
        raise StoryFailed(str(exc)) from exc


def _tx_of(body: Any) -> dict[str, Any] | None:
    if not isinstance(body, dict):
        return None
    if "tx_hash" in body:
        return body
    tx = body.get("transaction")
    return tx if isinstance(tx, dict) else None


def _walk(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for n in nodes:
        out.append(n)
        out.extend(_walk(n.get("children", [])))
    return out


def _fmt(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value / YUAN:,.2f}"
    return str(value)


def _day(timestamp: int) -> date:
    return datetime.fromtimestamp(timestamp, UTC).date()


def _midnight(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
