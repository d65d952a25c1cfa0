"""Admitting members to a deployed ledger: registry entry, roles, credit limit, starting cash."""

from __future__ import annotations

from dataclasses import dataclass

from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from web3.types import TxReceipt

from chain.deploy import Contracts
from chain.enums import Role
from chain.tx import TxSender


@dataclass(frozen=True)
class MemberSpec:
    """Who a member is: roles, a credit limit (core enterprises only) and cash to start with."""

    name: str
    roles: Role
    credit_limit: int = 0
    cash: int = 0


def entity_id(legal_id: str) -> bytes:
    """The on-chain legal entity id: keccak of the entity's identifier (e.g. its USCC)."""
    return keccak(text=legal_id)


def admit(
    *,
    sender: TxSender,
    contracts: Contracts,
    operator: LocalAccount,
    account: str,
    spec: MemberSpec,
    gas: int | None = None,
) -> list[TxReceipt]:
    """Add `account` as a member per `spec` and mint its starting cash; the receipts, in order."""
    receipts = [
        sender.transact(
            contracts.registry.functions.addMember(
                account, int(spec.roles), entity_id(spec.name), spec.credit_limit
            ),
            account=operator,
            gas=gas,
        )
    ]
    if spec.cash:
        receipts.append(
            sender.transact(
                contracts.token.functions.mint(account, spec.cash), account=operator, gas=gas
            )
        )
    return receipts
