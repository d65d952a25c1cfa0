"""Contract members: every mint and move of a piece asks a contract recipient to accept it."""

from __future__ import annotations

from typing import Any

import pytest
from eth_utils import keccak
from web3.contract import Contract

from chain.compile import _run_standard_json, compile_settings, find_solc
from chain.consortium import entity_id
from tests.contracts.helpers import HOLDER, piece, reverts
from tests.factories import DAY, World

# A member that is a contract: it acts through `exec` and accepts pieces or not.
WALLET = """
// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

contract MemberWallet {
    bool private immutable _accepts;

    constructor(bool accepts_) {
        _accepts = accepts_;
    }

    function exec(address target, bytes calldata data) external {
        (bool ok, bytes memory out) = target.call(data);
        if (!ok) {
            assembly {
                revert(add(out, 32), mload(out))
            }
        }
    }

    function onERC1155Received(address, address, uint256, uint256, bytes calldata)
        external
        view
        returns (bytes4)
    {
        return _accepts ? this.onERC1155Received.selector : bytes4(0);
    }

    function onERC1155BatchReceived(
        address,
        address,
        uint256[] calldata,
        uint256[] calldata,
        bytes calldata
    ) external view returns (bytes4) {
        return _accepts ? this.onERC1155BatchReceived.selector : bytes4(0);
    }
}
"""


@pytest.fixture(scope="module")
def wallet_artifact(deployed_world: World) -> tuple[list[Any], str]:
    settings = deployed_world.conn.settings
    payload = {
        "language": "Solidity",
        "sources": {"MemberWallet.sol": {"content": WALLET}},
        "settings": {
            **compile_settings(settings),
            "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}},
        },
    }
    out = _run_standard_json(find_solc(settings.contracts_dir), payload)
    errors = [e for e in out.get("errors", []) if e["severity"] == "error"]
    assert not errors, errors
    built = out["contracts"]["MemberWallet.sol"]["MemberWallet"]
    return built["abi"], built["evm"]["bytecode"]["object"]


def wallet(world: World, artifact: tuple[list[Any], str], name: str, *, accepts: bool) -> Contract:
    """A deployed wallet, admitted as a supplier and financier with cash."""
    abi, bytecode = artifact
    factory = world.conn.w3.eth.contract(abi=abi, bytecode=bytecode)
    receipt = world.sender.transact(factory.constructor(accepts), account=world.operator)
    contract = world.conn.w3.eth.contract(address=receipt["contractAddress"], abi=abi)
    world.tx(
        world.operator,
        world.registry.functions.addMember(contract.address, HOLDER, entity_id(name), 0),
    )
    world.tx(world.operator, world.token.functions.mint(contract.address, 10**9))
    return contract


def act(world: World, w: Contract, fn: Any) -> Any:
    """`w` sends `fn` to the ledger (the operator pays for the outer transaction)."""
    data = world.receivables.encode_abi(fn.abi_element_identifier, args=fn.args)
    return world.tx(world.operator, w.functions.exec(world.receivables.address, data))


def test_issue_and_confirm_ask_a_contract_supplier_to_accept(
    world: World, wallet_artifact: tuple[list[Any], str]
) -> None:
    yes = wallet(world, wallet_artifact, "accepting wallet", accepts=True)
    no = wallet(world, wallet_artifact, "refusing wallet", accepts=False)
    fns = world.receivables.functions
    due = world.now() + 30 * DAY
    with reverts("ERC1155InvalidReceiver", receiver=no.address):
        world.tx(world.core, fns.issue(no.address, 1_000, due, bytes(32), keccak(text="n-1")))
    world.tx(world.core, fns.issue(yes.address, 1_000, due, bytes(32), keccak(text="n-1")))
    rid = int(fns.rootByInvoiceKey(keccak(text="n-1")).call())
    assert world.receivables.functions.balanceOf(yes.address, rid).call() == 1_000

    act(world, no, fns.register(world.core.address, 1_000, due, bytes(32), keccak(text="n-2")))
    pending = int(fns.rootByInvoiceKey(keccak(text="n-2")).call())
    with reverts("ERC1155InvalidReceiver", receiver=no.address):
        world.tx(world.core, fns.confirm(pending))


def test_split_and_sale_ask_a_contract_recipient_to_accept(
    world: World, wallet_artifact: tuple[list[Any], str]
) -> None:
    yes = wallet(world, wallet_artifact, "accepting wallet", accepts=True)
    no = wallet(world, wallet_artifact, "refusing wallet", accepts=False)
    fns = world.receivables.functions
    s = world.supplier.address
    rid = world.issue(face=10_000)
    with reverts("ERC1155InvalidReceiver", receiver=no.address):
        world.tx(world.supplier, fns.split(rid, [s, no.address], [5_000, 5_000]))
    receipt = world.tx(world.supplier, fns.split(rid, [s, yes.address], [5_000, 5_000]))
    mine, theirs = world.events(receipt, "PieceSplit")[0]["childIds"]
    assert piece(world, theirs).holder == yes.address

    expiry = world.now() + 7 * DAY
    act(world, no, fns.postOffer(mine, 4_900, expiry))
    act(world, yes, fns.postOffer(mine, 4_800, expiry))
    last_offer = int(fns.lastIds().call()[1])
    refused_offer, accepted_offer = last_offer - 1, last_offer
    with reverts("ERC1155InvalidReceiver", receiver=no.address):
        world.tx(world.supplier, fns.acceptOffer(refused_offer))
    world.tx(world.supplier, fns.acceptOffer(accepted_offer))
    assert piece(world, mine).holder == yes.address


def test_supports_erc1155_but_claims_no_metadata_uri(world: World) -> None:
    supports = world.receivables.functions.supportsInterface
    assert supports(bytes.fromhex("d9b67a26")).call() is True  # ERC-1155
    assert supports(bytes.fromhex("01ffc9a7")).call() is True  # ERC-165
    assert supports(bytes.fromhex("0e89341c")).call() is False  # ERC-1155 metadata URI
