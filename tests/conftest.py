"""Shared fixtures: one chain per session, one deployed consortium, a clean snapshot per test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from chain.connection import ChainConnection, connect
from chain.settings import ChainSettings
from tests.factories import World, build_world

# CI runs a modest number of examples; `deep` is the long run (use with --chain=anvil).
settings.register_profile(
    "ci",
    max_examples=10,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "deep",
    max_examples=int(os.environ.get("HYPOTHESIS_DEEP_EXAMPLES", "1000")),
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--chain",
        choices=("tester", "anvil"),
        default=os.environ.get("SCF_TEST_CHAIN", "tester"),
        help="chain profile for the contract and chain tests (default: in-process eth-tester)",
    )


@pytest.fixture(scope="session")
def chain_profile(request: pytest.FixtureRequest) -> str:
    return str(request.config.getoption("--chain"))


@pytest.fixture(scope="session")
def conn(chain_profile: str) -> Iterator[ChainConnection]:
    """One chain for the whole session: eth-tester in process, or a spawned anvil."""
    with connect(ChainSettings(profile=chain_profile)) as connection:  # type: ignore[arg-type]
        yield connection


@pytest.fixture(scope="session")
def deployed_world(conn: ChainConnection) -> World:
    return build_world(conn)


@pytest.fixture
def world(deployed_world: World, conn: ChainConnection) -> Iterator[World]:
    """The deployed consortium, rolled back to its starting state after each test."""
    snapshot = conn.snapshot()
    yield deployed_world
    conn.revert(snapshot)
