"""Fixtures for chain tests: one connection per profile, a fresh deployment per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from chain.connection import ChainConnection, connect
from chain.deploy import Contracts, Deployment, deploy
from chain.settings import ChainSettings
from chain.tx import TxSender

PROFILES = [
    pytest.param("tester", id="tester"),
    pytest.param("anvil", id="anvil", marks=pytest.mark.anvil),
]


@pytest.fixture(scope="module", params=PROFILES)
def conn(request: pytest.FixtureRequest) -> Iterator[ChainConnection]:
    """A connection per profile, shared within a module; tests revert their changes."""
    with connect(ChainSettings(profile=request.param)) as connection:
        yield connection


@pytest.fixture
def clean_conn(conn: ChainConnection) -> Iterator[ChainConnection]:
    """`conn` rolled back to its prior state after the test."""
    snap = conn.snapshot()
    yield conn
    conn.revert(snap)


@pytest.fixture
def operator(clean_conn: ChainConnection) -> LocalAccount:
    return clean_conn.dev_accounts(1)[0]


@pytest.fixture
def sender(clean_conn: ChainConnection) -> TxSender:
    return TxSender(clean_conn)


@pytest.fixture
def deployment(clean_conn: ChainConnection, operator: LocalAccount, sender: TxSender) -> Deployment:
    return deploy(
        clean_conn, operator=operator, operator_entity_id=keccak(text="OPERATOR"), sender=sender
    )


@pytest.fixture
def contracts(clean_conn: ChainConnection, deployment: Deployment) -> Contracts:
    return Contracts.bind(clean_conn.w3, deployment)
