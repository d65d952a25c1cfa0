"""Deploy and wire the three contracts; a `Deployment` record round-trips through JSON."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from web3 import Web3
from web3.contract import Contract

from chain.artifacts import get_artifact
from chain.connection import ChainConnection
from chain.errors import ArtifactError, ChainError
from chain.tx import TxSender

log = logging.getLogger(__name__)

DEFAULT_MAX_DEPTH = 8
DEFAULT_MIN_PIECE_AMOUNT = 100  # 1.00 in minor units
DEFAULT_GRACE_PERIOD_SECONDS = 7 * 24 * 3600
# Live pieces one receivable may have: a distribution pass then visits fewer than twice as many.
DEFAULT_MAX_LIVE_PIECES = 1_000


@dataclass(frozen=True)
class DeployedContract:
    """Where one contract lives and how it got there."""

    address: str
    block_number: int
    tx_hash: str


@dataclass(frozen=True)
class Deployment:
    """The wired set of contracts on one chain."""

    chain_id: int
    registry: DeployedContract
    token: DeployedContract
    receivables: DeployedContract
    set_ledger_tx_hash: str

    @property
    def start_block(self) -> int:
        """First block an indexer needs to read."""
        return min(
            self.registry.block_number, self.token.block_number, self.receivables.block_number
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Deployment:
        try:
            return cls(
                chain_id=int(data["chain_id"]),
                registry=DeployedContract(**data["registry"]),
                token=DeployedContract(**data["token"]),
                receivables=DeployedContract(**data["receivables"]),
                set_ledger_tx_hash=data["set_ledger_tx_hash"],
            )
        except (KeyError, TypeError) as exc:
            raise ChainError(f"malformed deployment record: {exc}") from exc

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Deployment:
        try:
            return cls.from_json(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError as exc:
            raise ChainError(f"no deployment record at {path}; run `scf deploy`") from exc


@dataclass(frozen=True)
class Contracts:
    """web3 contract objects bound to a deployment's addresses."""

    registry: Contract
    token: Contract
    receivables: Contract

    @classmethod
    def bind(cls, w3: Web3, deployment: Deployment, build_dir: Path | None = None) -> Contracts:
        def at(name: str, address: str) -> Contract:
            abi = list(get_artifact(name, build_dir).abi)
            return w3.eth.contract(address=to_checksum_address(address), abi=abi)

        return cls(
            registry=at("MemberRegistry", deployment.registry.address),
            token=at("SettlementToken", deployment.token.address),
            receivables=at("Receivables", deployment.receivables.address),
        )


def deploy_contract(
    conn: ChainConnection,
    sender: TxSender,
    name: str,
    *args: Any,
    account: LocalAccount,
) -> DeployedContract:
    """Deploy one artifact with constructor `args` from `account`."""
    artifact = get_artifact(name, conn.settings.build_dir)
    factory = conn.w3.eth.contract(abi=list(artifact.abi), bytecode=artifact.bytecode)
    receipt = sender.transact(factory.constructor(*args), account=account)
    address = receipt["contractAddress"]
    if address is None:
        raise ChainError(f"{name} deployment produced no contract address")
    log.info("deployed %s at %s", name, address)
    return DeployedContract(
        address=to_checksum_address(address),
        block_number=int(receipt["blockNumber"]),
        tx_hash=receipt["transactionHash"].to_0x_hex(),
    )


def deploy(
    conn: ChainConnection,
    *,
    operator: LocalAccount,
    operator_entity_id: bytes,
    max_depth: int = DEFAULT_MAX_DEPTH,
    min_piece_amount: int = DEFAULT_MIN_PIECE_AMOUNT,
    grace_period_seconds: int = DEFAULT_GRACE_PERIOD_SECONDS,
    max_live_pieces: int = DEFAULT_MAX_LIVE_PIECES,
    sender: TxSender | None = None,
) -> Deployment:
    """Deploy MemberRegistry, SettlementToken, Receivables and point the token at the ledger."""
    if len(operator_entity_id) != 32:
        raise ValueError("operator_entity_id must be 32 bytes (a keccak hash)")
    for name in ("MemberRegistry", "SettlementToken", "Receivables"):
        try:
            get_artifact(name, conn.settings.build_dir)
        except ArtifactError as exc:
            raise ChainError(f"cannot deploy: {exc}") from exc
    sender = sender or TxSender(conn)
    registry = deploy_contract(
        conn, sender, "MemberRegistry", operator.address, operator_entity_id, account=operator
    )
    token = deploy_contract(conn, sender, "SettlementToken", registry.address, account=operator)
    receivables = deploy_contract(
        conn,
        sender,
        "Receivables",
        registry.address,
        token.address,
        max_depth,
        min_piece_amount,
        grace_period_seconds,
        max_live_pieces,
        account=operator,
    )
    token_contract = conn.w3.eth.contract(
        address=to_checksum_address(token.address),
        abi=list(get_artifact("SettlementToken", conn.settings.build_dir).abi),
    )
    receipt = sender.transact(
        token_contract.functions.setLedger(receivables.address), account=operator
    )
    return Deployment(
        chain_id=conn.chain_id,
        registry=registry,
        token=token,
        receivables=receivables,
        set_ledger_tx_hash=receipt["transactionHash"].to_0x_hex(),
    )
