"""Assertions shared by the contract tests: exact refusals, decoded logs, readable views."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, NamedTuple

import pytest
from eth_utils import event_abi_to_log_topic
from web3.contract import Contract
from web3.types import TxReceipt

from chain.enums import Role
from chain.errors import ContractRevert
from tests.factories import World

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"

# Role bits as plain ints: web3 does not encode IntFlag members.
OPERATOR = int(Role.OPERATOR)
CORE = int(Role.CORE_ENTERPRISE)
SUPPLIER = int(Role.SUPPLIER)
FINANCIER = int(Role.FINANCIER)
REGULATOR = int(Role.REGULATOR)
AUDITOR = int(Role.AUDITOR)
ALL_ROLES = int(Role.ALL)
HOLDER = int(Role.HOLDER)


class Root(NamedTuple):
    debtor: str
    due_date: int
    status: int
    frozen: bool
    live_pieces: int
    supplier: str
    head: int
    cursor: int
    frozen_pieces: int
    face_value: int
    repaid: int
    paid_out: int
    last_paid: int
    invoice_hash: bytes
    invoice_key: bytes


class Piece(NamedTuple):
    holder: str
    amount: int
    root_id: int
    parent_id: int
    next: int
    status: int
    depth: int
    frozen: bool
    paid_out: int


class Offer(NamedTuple):
    financier: str
    expiry: int
    status: int
    piece_id: int
    price: int


def root(world: World, root_id: int) -> Root:
    return Root(*world.root(root_id))


def piece(world: World, piece_id: int) -> Piece:
    return Piece(*world.piece(piece_id))


def offer(world: World, offer_id: int) -> Offer:
    return Offer(*world.offer(offer_id))


@contextlib.contextmanager
def reverts(name: str, **args: Any) -> Iterator[None]:
    """The block must be refused with exactly this custom error and these arguments."""
    with pytest.raises(ContractRevert) as info:
        yield
    assert (info.value.name, info.value.args_) == (name, args)


def call(world: World, fn: Any, account: Any = None) -> Any:
    """A read (or a dry run of a write) whose refusal is decoded into ContractRevert."""
    return world.sender.call(fn, account=account)


def _plain(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        return bytes(value)
    return value


def logs(world: World, receipt: TxReceipt, *more: Contract) -> list[tuple[str, dict[str, Any]]]:
    """Every event of `receipt` from the three contracts (and `more`), decoded, in order."""
    decoders: dict[tuple[str, bytes], Any] = {}
    for contract in (world.registry, world.token, world.receivables, *more):
        for entry in contract.abi:
            if entry["type"] == "event":
                topic = event_abi_to_log_topic(entry)
                decoders[(contract.address, topic)] = getattr(contract.events, entry["name"])()
    out = []
    for log in receipt["logs"]:
        event = decoders[(log["address"], bytes(log["topics"][0]))]
        decoded = event.process_log(log)
        out.append((decoded["event"], {k: _plain(v) for k, v in decoded["args"].items()}))
    return out


def cash(world: World, address: str) -> int:
    return int(world.token.functions.balanceOf(address).call())


def escrow(world: World) -> int:
    """Settlement cash held by the Receivables ledger."""
    return cash(world, world.receivables.address)


def credit_used(world: World, debtor: Any) -> int:
    return int(world.receivables.functions.creditUsedOf(debtor.address).call())
