"""`scf walkthrough` (`make walkthrough`): one receivable through its whole life at the contract
level, on the embedded chain, with the gas of each step; no API."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eth_account.signers.local import LocalAccount
from rich.console import Console
from rich.table import Table
from web3.logs import DISCARD
from web3.types import TxReceipt

from chain.connection import ChainConnection, connect
from chain.consortium import MemberSpec, admit, entity_id
from chain.deploy import Contracts, deploy
from chain.enums import PieceStatus, Role, RootStatus
from chain.pricing import SECONDS_PER_DAY, days_to_maturity, discount_price
from chain.settings import ChainSettings
from chain.tx import TxSender

YUAN = 100  # minor units per yuan
CONSORTIUM = (
    MemberSpec("Operator (consortium admin)", Role.OPERATOR),
    MemberSpec(
        "Core enterprise",
        Role.CORE_ENTERPRISE,
        credit_limit=5_000_000 * YUAN,
        cash=2_000_000 * YUAN,
    ),
    MemberSpec("Tier-1 supplier", Role.SUPPLIER),
    MemberSpec("Tier-2 supplier", Role.SUPPLIER),
    MemberSpec("Bank", Role.FINANCIER, cash=3_000_000 * YUAN),
    MemberSpec("Regulator", Role.REGULATOR),
)


@dataclass
class Demo:
    conn: ChainConnection
    sender: TxSender
    contracts: Contracts
    accounts: dict[str, LocalAccount]
    console: Console
    gas: list[tuple[str, int]] = field(default_factory=list)

    def step(self, title: str, actor: str, fn: Any) -> TxReceipt:
        receipt = self.sender.transact(fn, account=self.accounts[actor])
        used = int(receipt["gasUsed"])
        self.gas.append((title, used))
        self.console.print(
            f"[bold]{title}[/bold]  [dim]{actor} · tx {receipt['transactionHash'].to_0x_hex()[:18]}"
            f"… · block {receipt['blockNumber']} · gas {used:,}[/dim]"
        )
        return receipt

    def event(self, receipt: TxReceipt, name: str) -> dict[str, Any]:
        event = getattr(self.contracts.receivables.events, name)()
        logs = event.process_receipt(receipt, errors=DISCARD)
        return dict(logs[0]["args"])

    def balances(self, pieces: list[int]) -> None:
        token, receivables = self.contracts.token.functions, self.contracts.receivables.functions
        table = Table(title="balances", title_justify="left")
        table.add_column("member")
        table.add_column("cash (yuan)", justify="right")
        table.add_column("receivable pieces held", justify="right")
        for name, account in self.accounts.items():
            held = []
            for piece_id in pieces:
                piece = receivables.pieceOf(piece_id).call()
                if piece[0] == account.address and piece[5] == PieceStatus.ACTIVE:
                    left = (piece[1] - piece[8]) / YUAN
                    held.append(f"#{piece_id}: {left:,.2f}" if left else f"#{piece_id}: paid")
            cash = token.balanceOf(account.address).call() / YUAN
            table.add_row(name, f"{cash:,.2f}", ", ".join(held) or "-")
        escrow = token.balanceOf(self.contracts.receivables.address).call() / YUAN
        table.add_row("[dim]ledger escrow[/dim]", f"{escrow:,.2f}", "")
        self.console.print(table)


def run_demo(settings: ChainSettings | None = None, console: Console | None = None) -> None:
    """Deploy, admit a consortium, and walk one payable from invoice to settlement."""
    console = console or Console()
    with connect(settings or ChainSettings(profile="tester")) as conn:
        accounts = dict(
            zip((m.name for m in CONSORTIUM), conn.dev_accounts(len(CONSORTIUM)), strict=True)
        )
        operator = accounts["Operator (consortium admin)"]
        sender = TxSender(conn)
        console.rule("scf-ledger: one receivable, invoice to settlement")
        deployment = deploy(
            conn, operator=operator, operator_entity_id=entity_id("operator"), sender=sender
        )
        contracts = Contracts.bind(conn.w3, deployment)
        console.print(
            f"deployed on chain {deployment.chain_id}: registry "
            f"{deployment.registry.address}, token {deployment.token.address}, "
            f"receivables {deployment.receivables.address}"
        )
        for spec in CONSORTIUM[1:]:
            admit(
                sender=sender,
                contracts=contracts,
                operator=operator,
                account=accounts[spec.name].address,
                spec=spec,
            )
        console.print(
            f"admitted {len(CONSORTIUM) - 1} members; minted cash to the core "
            "enterprise and the bank"
        )
        demo = Demo(conn, sender, contracts, accounts, console)
        _walk(demo)


def _walk(demo: Demo) -> None:
    rc = demo.contracts.receivables.functions
    core, tier1, tier2 = "Core enterprise", "Tier-1 supplier", "Tier-2 supplier"
    face = 1_000_000 * YUAN
    due = demo.conn.latest_timestamp() + 90 * SECONDS_PER_DAY
    invoice_key = entity_id("tier-1 supplier/INV-2026-0001")

    receipt = demo.step(
        "1. tier-1 supplier registers invoice INV-2026-0001 (1,000,000.00)",
        tier1,
        rc.register(
            demo.accounts[core].address, face, due, entity_id("invoice document"), invoice_key
        ),
    )
    root = int(demo.event(receipt, "ReceivableRegistered")["rootId"])
    receipt = demo.step("2. core enterprise confirms it (确权)", core, rc.confirm(root))
    used = demo.event(receipt, "ReceivableConfirmed")["creditUsed"]
    demo.console.print(f"   credit used by the core enterprise: {used / YUAN:,.2f}")
    receipt = demo.step(
        "3. tier-1 splits: keeps 600,000, passes 400,000 to tier-2",
        tier1,
        rc.split(
            root,
            [demo.accounts[tier1].address, demo.accounts[tier2].address],
            [600_000 * YUAN, 400_000 * YUAN],
        ),
    )
    kept, passed = (int(i) for i in demo.event(receipt, "PieceSplit")["childIds"])
    pieces = [root, kept, passed]
    demo.balances(pieces)

    days = days_to_maturity(now=demo.conn.latest_timestamp(), due_date=due)
    price = discount_price(400_000 * YUAN, rate_bps=600, days=days)
    receipt = demo.step(
        f"4. bank offers {price / YUAN:,.2f} for piece #{passed} (6%/yr, {days} "
        "days, 360-day basis)",
        "Bank",
        rc.postOffer(passed, price, demo.conn.latest_timestamp() + 7 * SECONDS_PER_DAY),
    )
    offer = int(demo.event(receipt, "OfferPosted")["offerId"])
    demo.step(
        "5. tier-2 accepts: piece and cash swap in one transaction", tier2, rc.acceptOffer(offer)
    )
    demo.balances(pieces)

    demo.step("6. core enterprise repays 300,000 early", core, rc.repay(root, 300_000 * YUAN))
    demo.conn.advance_time(due - demo.conn.latest_timestamp())
    demo.console.print("   … 90 days later: the due date; pieces are locked")
    demo.step(
        "7. core enterprise repays the remaining 700,000", core, rc.repay(root, 700_000 * YUAN)
    )
    demo.step(
        "8. keeper distributes to every holder (batch of 10)", "Regulator", rc.distribute(root, 10)
    )
    status = RootStatus(rc.rootOf(root).call()[2])
    demo.balances(pieces)
    demo.console.print(
        f"receivable #{root}: [bold green]{status.name}[/bold green]; credit used "
        f"now {rc.creditUsedOf(demo.accounts[core].address).call() / YUAN:,.2f}"
    )
    table = Table(title="gas per transaction", title_justify="left")
    table.add_column("step")
    table.add_column("gas", justify="right")
    for title, used in demo.gas:
        table.add_row(title[:60], f"{used:,}")
    demo.console.print(table)
    if status != RootStatus.SETTLED:
        raise SystemExit("the receivable did not settle")


if __name__ == "__main__":
    run_demo()
