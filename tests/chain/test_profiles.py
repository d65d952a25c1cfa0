from __future__ import annotations

import pytest

from chain.connection import ChainConnection, connect
from chain.errors import ProfileError
from chain.settings import ChainSettings


def test_tester_profile_is_default_and_raises_block_gas_limit() -> None:
    settings = ChainSettings()
    assert settings.profile == "tester"
    with connect(settings) as conn:
        block = conn.w3.eth.get_block("latest")
        assert block["gasLimit"] == settings.tester_gas_limit
        assert conn.fee_mode == "auto"


@pytest.mark.anvil
def test_anvil_profile_spawns_zero_gas_node_and_stops_it_on_close() -> None:
    conn = connect(ChainSettings(profile="anvil", anvil_chain_id=4242))
    assert conn.anvil is not None
    proc = conn.anvil.proc
    assert conn.chain_id == 4242
    assert conn.fee_mode == "zero"
    assert conn.w3.eth.get_block("latest")["baseFeePerGas"] == 0
    conn.close()
    assert proc.poll() is not None


def test_rpc_profile_refuses_a_dead_url() -> None:
    with pytest.raises(ProfileError, match="no JSON-RPC node"):
        connect(ChainSettings(profile="rpc", rpc_url="http://127.0.0.1:9", rpc_timeout_seconds=1))


@pytest.mark.anvil
def test_rpc_profile_talks_to_a_running_node() -> None:
    with connect(ChainSettings(profile="anvil")) as node:
        assert node.anvil is not None
        rpc = connect(ChainSettings(profile="rpc", rpc_url=node.anvil.url, fee_mode="zero"))
        assert rpc.chain_id == node.chain_id
        assert rpc.w3.eth.block_number == node.w3.eth.block_number


def test_advance_time_moves_block_timestamp_forward(clean_conn: ChainConnection) -> None:
    before = clean_conn.latest_timestamp()
    after = clean_conn.advance_time(30 * 24 * 3600)
    assert after >= before + 30 * 24 * 3600
    assert clean_conn.latest_timestamp() == after


def test_snapshot_revert_restores_balances(clean_conn: ChainConnection) -> None:
    acct = clean_conn.new_account(fund=False)
    snap = clean_conn.snapshot()
    clean_conn.fund(acct.address, 12345)
    assert clean_conn.w3.eth.get_balance(acct.address) == 12345
    clean_conn.revert(snap)
    assert clean_conn.w3.eth.get_balance(acct.address) == 0


def test_settings_read_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCF_CHAIN_PROFILE", "anvil")
    monkeypatch.setenv("SCF_CHAIN_ANVIL_ZERO_GAS", "false")
    settings = ChainSettings()
    assert settings.profile == "anvil"
    assert settings.effective_fee_mode == "auto"
