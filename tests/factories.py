"""Test builders: a deployed ledger with its consortium, and receivables in any state."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import TxReceipt

from chain.connection import ChainConnection
from chain.consortium import MemberSpec, admit, entity_id
from chain.deploy import Contracts, Deployment, deploy
from chain.enums import Role
from chain.tx import TxSender

DAY = 86_400
MAX_DEPTH = 4
MIN_PIECE = 100
GRACE_PERIOD = 3 * DAY
MAX_LIVE_PIECES = 64
CREDIT_LIMIT = 10**12
STARTING_CASH = 10**11
TESTER_GAS = 3_000_000

# Member name -> roles. `outsider` is never added; `suspended` is added, then suspended.
CONSORTIUM: dict[str, Role] = {
    "operator": Role.OPERATOR,
    "core": Role.CORE_ENTERPRISE,
    "core2": Role.CORE_ENTERPRISE,
    "supplier": Role.SUPPLIER,
    "supplier2": Role.SUPPLIER,
    "supplier3": Role.SUPPLIER,
    "bank": Role.FINANCIER,
    "bank2": Role.FINANCIER,
    "regulator": Role.REGULATOR,
    "auditor": Role.AUDITOR,
    "suspended": Role.SUPPLIER,
    "outsider": Role(0),
}
CASH_HOLDERS = ("core", "core2", "bank", "bank2", "supplier", "supplier2")


@dataclass
class World:
    """A deployed ledger, its members' keys, and one sender for every transaction."""

    conn: ChainConnection
    sender: TxSender
    deployment: Deployment
    contracts: Contracts
    members: dict[str, LocalAccount]
    _keys: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # -- plumbing --------------------------------------------------------------------------

    @property
    def registry(self) -> Contract:
        return self.contracts.registry

    @property
    def token(self) -> Contract:
        return self.contracts.token

    @property
    def receivables(self) -> Contract:
        return self.contracts.receivables

    def __getattr__(self, name: str) -> LocalAccount:
        members = self.__dict__.get("members", {})
        if name in members:
            return members[name]
        raise AttributeError(name)

    def tx(self, account: LocalAccount, fn: Any) -> TxReceipt:
        """Send `fn` signed by `account` and wait; a refusal raises ContractRevert.

        eth-tester estimates gas by many trial runs (4x the cost of the transaction), so there a
        fixed gas limit is sent instead: a refusal is then mined and decoded from the receipt.
        """
        return self.sender.transact(fn, account=account, gas=self.gas)

    @property
    def gas(self) -> int | None:
        return TESTER_GAS if self.conn.profile == "tester" else None

    def events(self, receipt: TxReceipt, name: str) -> list[dict[str, Any]]:
        """Decoded arguments of every `name` event in `receipt`, from whichever contract."""
        for contract in (self.receivables, self.token, self.registry):
            if any(e.get("name") == name and e["type"] == "event" for e in contract.abi):
                logs = getattr(contract.events, name)().process_receipt(receipt, errors=DISCARD)
                return [dict(log["args"]) for log in logs]
        raise KeyError(name)

    def now(self) -> int:
        return self.conn.latest_timestamp()

    def travel_to(self, timestamp: int) -> None:
        """Move chain time so that the next block is at or after `timestamp`."""
        gap = timestamp - self.now()
        if gap > 0:
            self.conn.advance_time(gap)

    def cash(self, account: LocalAccount | str) -> int:
        address = account if isinstance(account, str) else account.address
        return int(self.token.functions.balanceOf(address).call())

    def root(self, root_id: int) -> Any:
        return self.receivables.functions.rootOf(root_id).call()

    def piece(self, piece_id: int) -> Any:
        return self.receivables.functions.pieceOf(piece_id).call()

    def offer(self, offer_id: int) -> Any:
        return self.receivables.functions.offerOf(offer_id).call()

    def holding(self, account: LocalAccount, piece_id: int) -> int:
        return int(self.receivables.functions.balanceOf(account.address, piece_id).call())

    # -- factories -------------------------------------------------------------------------

    def invoice_key(self) -> bytes:
        """A fresh invoice key (keccak of seller entity and invoice number)."""
        return keccak(text=f"invoice-{next(self._keys)}")

    def register(
        self,
        *,
        supplier: str = "supplier",
        debtor: str = "core",
        face: int = 1_000_000,
        due_in: int = 90 * DAY,
        key: bytes | None = None,
    ) -> int:
        """A Registered root; returns its id."""
        receipt = self.tx(
            self.members[supplier],
            self.receivables.functions.register(
                self.members[debtor].address,
                face,
                self.now() + due_in,
                keccak(text="invoice document"),
                key or self.invoice_key(),
            ),
        )
        return int(self.events(receipt, "ReceivableRegistered")[0]["rootId"])

    def issue(
        self,
        *,
        supplier: str = "supplier",
        debtor: str = "core",
        face: int = 1_000_000,
        due_in: int = 90 * DAY,
        key: bytes | None = None,
    ) -> int:
        """A Confirmed root issued by the debtor; returns its id (also its root piece's id)."""
        receipt = self.tx(
            self.members[debtor],
            self.receivables.functions.issue(
                self.members[supplier].address,
                face,
                self.now() + due_in,
                keccak(text="invoice document"),
                key or self.invoice_key(),
            ),
        )
        return int(self.events(receipt, "ReceivableRegistered")[0]["rootId"])

    def split(self, piece_id: int, parts: list[tuple[str, int]], *, holder: str) -> list[int]:
        """Split `piece_id` held by `holder` into `parts` (member name, amount); child ids."""
        receipt = self.tx(
            self.members[holder],
            self.receivables.functions.split(
                piece_id, [self.members[n].address for n, _ in parts], [a for _, a in parts]
            ),
        )
        return list(self.events(receipt, "PieceSplit")[0]["childIds"])

    def post_offer(
        self, piece_id: int, price: int, *, financier: str = "bank", expires_in: int = 7 * DAY
    ) -> int:
        """An open offer with its price in escrow; returns its id."""
        receipt = self.tx(
            self.members[financier],
            self.receivables.functions.postOffer(piece_id, price, self.now() + expires_in),
        )
        return int(self.events(receipt, "OfferPosted")[0]["offerId"])


def build_world(conn: ChainConnection) -> World:
    """Deploy the ledger and admit the consortium; every cash holder gets starting cash."""
    accounts = conn.dev_accounts(len(CONSORTIUM))
    members = dict(zip(CONSORTIUM, accounts, strict=True))
    sender = TxSender(conn)
    operator = members["operator"]
    deployment = deploy(
        conn,
        operator=operator,
        operator_entity_id=entity_id("operator"),
        max_depth=MAX_DEPTH,
        min_piece_amount=MIN_PIECE,
        grace_period_seconds=GRACE_PERIOD,
        max_live_pieces=MAX_LIVE_PIECES,
        sender=sender,
    )
    contracts = Contracts.bind(conn.w3, deployment)
    world = World(conn, sender, deployment, contracts, members)
    for name, roles in CONSORTIUM.items():
        if name in ("operator", "outsider"):
            continue
        spec = MemberSpec(
            name,
            roles,
            credit_limit=CREDIT_LIMIT if roles & Role.CORE_ENTERPRISE else 0,
            cash=STARTING_CASH if name in CASH_HOLDERS else 0,
        )
        admit(
            sender=sender,
            contracts=contracts,
            operator=operator,
            account=members[name].address,
            spec=spec,
            gas=world.gas,
        )
    world.tx(operator, world.registry.functions.suspend(members["suspended"].address))
    return world
