"""The demo story on the `rpc` profile against anvil set up like a Besu QBFT network: zero base
fee and gas price, a block every second instead of automine, the POA middleware on (blocks carry
QBFT's long extraData), and eth_getLogs ranges capped as with `--rpc-max-logs-range`."""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from fastapi.testclient import TestClient
from rich.console import Console

from backend.config import Config
from backend.settings import BackendSettings
from backend.tools.demo import CASH, KEPT, PASSED, run_story
from backend.tools.serve import build_app
from chain.connection import AnvilProcess, start_anvil
from chain.settings import ChainSettings
from indexer.settings import IndexerSettings
from tests.e2e.besu_proxy import BesuLikeProxy

pytestmark = [pytest.mark.anvil, pytest.mark.slow]
MAX_LOGS_RANGE = 2


#: Outside the embedded profile the settings refuse development keys: a key of its own.
OPERATOR = Account.create()


@pytest.fixture(scope="module")
def anvil() -> Iterator[AnvilProcess]:
    proc = start_anvil(ChainSettings(profile="anvil", anvil_zero_gas=True, anvil_block_time=1))
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def besu(anvil: AnvilProcess) -> Iterator[BesuLikeProxy]:
    proxy = BesuLikeProxy(anvil.url, max_logs_range=MAX_LOGS_RANGE).start()
    yield proxy
    proxy.stop()


def besu_like_config(rpc_url: str, workdir: Path) -> Config:
    database = f"sqlite:///{workdir / 'scf.sqlite3'}"
    return Config(
        backend=BackendSettings(
            profile="production",
            master_key=base64.urlsafe_b64encode(os.urandom(32)).decode(),
            operator_key=OPERATOR.key.to_0x_hex(),
            keeper_key=Account.create().key.to_0x_hex(),
            database_url=database,
            mirror_database_url=database,
            deploy=True,
            deployment_path=workdir / "deployment.json",
            run_indexer=True,
            task_always_eager=True,  # one process here; production runs `scf worker`s
            keeper_interval_seconds=1,
            wait_timeout_seconds=60,
        ),
        chain=ChainSettings(profile="rpc", rpc_url=rpc_url, poa_middleware=True, fee_mode="zero"),
        indexer=IndexerSettings(
            database_url=database, confirmation_depth=0, initial_block_range=64
        ),
    )


def test_demo_story_on_a_besu_like_network(
    anvil: AnvilProcess,
    besu: BesuLikeProxy,
    tmp_path: Path,
    console: tuple[Console, io.StringIO],
) -> None:
    out, buffer = console
    config = besu_like_config(besu.url, tmp_path)
    # the in-process keeper thread (what beat does in production) runs every second
    with TestClient(build_app(config, keeper=True)) as http:
        rt = http.app.state.runtime  # type: ignore[attr-defined]
        assert rt.conn.profile == "rpc" and rt.conn.fee_mode == "zero"
        chain = http.get("/healthz").json()
        result = run_story(http, operator=OPERATOR, console=out, chain_rpc_url=anvil.url)
        blocks = rt.conn.w3.eth.block_number
        assert rt.conn.w3.eth.get_block("latest")["proofOfAuthorityData"]
    printed = buffer.getvalue()
    assert chain["ok"] and "the story checks out" in printed
    assert result["cash"]["tier1"] == KEPT
    assert result["cash"]["bank"] == CASH - result["price"] + PASSED
    # the chain was not automining: far fewer blocks than seconds would make per transaction
    assert blocks > 10
    assert besu.refused_ranges > 0, "the indexer never met the log-range cap"
