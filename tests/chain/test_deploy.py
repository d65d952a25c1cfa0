from __future__ import annotations

from pathlib import Path

from eth_account.signers.local import LocalAccount

from chain.connection import ChainConnection
from chain.deploy import Contracts, Deployment
from chain.enums import MemberStatus, Role


def test_deploy_wires_token_to_receivables(
    clean_conn: ChainConnection, deployment: Deployment, contracts: Contracts
) -> None:
    assert deployment.chain_id == clean_conn.chain_id
    assert contracts.token.functions.ledger().call() == deployment.receivables.address
    assert contracts.token.functions.registry().call() == deployment.registry.address
    assert contracts.receivables.functions.registry().call() == deployment.registry.address
    assert contracts.receivables.functions.token().call() == deployment.token.address


def test_deploy_makes_the_operator_a_member(operator: LocalAccount, contracts: Contracts) -> None:
    roles, status, _, _ = contracts.registry.functions.memberOf(operator.address).call()
    assert (roles, status) == (Role.OPERATOR, MemberStatus.ACTIVE)


def test_deploy_records_blocks_in_order(deployment: Deployment) -> None:
    assert 0 < deployment.registry.block_number <= deployment.token.block_number
    assert deployment.token.block_number <= deployment.receivables.block_number
    assert deployment.start_block == deployment.registry.block_number


def test_deployment_round_trips_through_json(deployment: Deployment, tmp_path: Path) -> None:
    path = tmp_path / "deployment.json"
    deployment.save(path)
    assert Deployment.load(path) == deployment
