"""Gas estimation on a node with transactions pending (anvil, automine off): the latest block
first, the pending block only for what the latest refuses."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from chain.connection import ChainConnection, connect
from chain.deploy import Contracts, deploy
from chain.errors import ContractRevert
from chain.outbox import OutboxSender
from chain.settings import ChainSettings

pytestmark = pytest.mark.anvil


@pytest.fixture(scope="module")
def anvil_conn() -> Iterator[ChainConnection]:
    with connect(ChainSettings(profile="anvil")) as connection:
        yield connection


@pytest.fixture
def held(anvil_conn: ChainConnection) -> Iterator[tuple[OutboxSender, Contracts, LocalAccount]]:
    """A fresh deployment whose operator has a pause() pending, not mined."""
    snap = anvil_conn.snapshot()
    operator = anvil_conn.dev_accounts(1)[0]
    sender = OutboxSender(anvil_conn)
    deployment = deploy(
        anvil_conn, operator=operator, operator_entity_id=keccak(text="OPERATOR"), sender=sender
    )
    contracts = Contracts.bind(anvil_conn.w3, deployment)
    anvil_conn.rpc("evm_setAutomine", [False])
    tx = sender.prepare(contracts.registry.functions.pause(), account=operator)
    tx["nonce"] = sender.next_nonce(operator.address)
    sender.rebroadcast(bytes(operator.sign_transaction(tx).raw_transaction))  # type: ignore[arg-type]
    assert contracts.registry.functions.paused().call() is False  # latest: not yet
    yield sender, contracts, operator
    anvil_conn.rpc("evm_setAutomine", [True])
    anvil_conn.revert(snap)


def test_a_transaction_that_needs_a_pending_one_is_estimated_on_the_pending_block(
    held: tuple[OutboxSender, Contracts, LocalAccount],
) -> None:
    sender, contracts, operator = held
    # unpause() is refused on the latest block (not paused) and passes once pause() is counted
    tx = sender.prepare(contracts.registry.functions.unpause(), account=operator)
    assert tx["gas"] > 21_000
    [gas] = sender.estimate_many([tx])
    assert isinstance(gas, int) and gas > 21_000


def test_a_refusal_on_both_blocks_is_named_and_the_rest_of_the_batch_estimated(
    held: tuple[OutboxSender, Contracts, LocalAccount], anvil_conn: ChainConnection
) -> None:
    sender, contracts, operator = held
    outsider = anvil_conn.new_account()
    # a second pause() passes on the latest block: the chain, not the estimate, refuses that
    # one when it is mined after the first
    assert sender.prepare(contracts.registry.functions.pause(), account=operator)["gas"] > 0
    refused = sender.prepare(contracts.registry.functions.unpause(), account=operator)
    refused["from"] = outsider.address
    plain = sender.prepare(contracts.registry.functions.unpause(), account=operator)
    gases = sender.estimate_many([refused, plain])
    assert isinstance(gases[0], ContractRevert)
    assert gases[0].name == "MemberRegistryNotOperator"
    assert isinstance(gases[1], int)
