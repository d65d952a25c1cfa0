from __future__ import annotations

import pytest
from eth_abi import encode
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from chain.connection import ChainConnection
from chain.deploy import Contracts
from chain.errors import ContractRevert
from chain.revert import RevertDecoder, default_decoder
from chain.tx import TxSender


def _selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


def test_non_operator_add_member_reverts_with_named_error_before_sending(
    clean_conn: ChainConnection, contracts: Contracts, sender: TxSender
) -> None:
    outsider = clean_conn.new_account()
    nonce_before = clean_conn.w3.eth.get_transaction_count(outsider.address)
    fn = contracts.registry.functions.addMember(outsider.address, 4, b"\x01" * 32, 0)
    with pytest.raises(ContractRevert) as info:
        sender.transact(fn, account=outsider)
    assert info.value.name == "MemberRegistryNotOperator"
    assert info.value.args_ == {"caller": outsider.address}
    assert clean_conn.w3.eth.get_transaction_count(outsider.address) == nonce_before


def test_mined_failure_is_decoded_from_the_replayed_call(
    clean_conn: ChainConnection, contracts: Contracts, sender: TxSender
) -> None:
    outsider = clean_conn.new_account()
    fn = contracts.registry.functions.pause()
    with pytest.raises(ContractRevert) as info:
        # explicit gas skips estimation, so the failure happens on chain
        sender.transact(fn, account=outsider, gas=200_000)
    assert info.value.name == "MemberRegistryNotOperator"
    assert info.value.args_ == {"caller": outsider.address}
    assert info.value.tx_hash is not None
    receipt = clean_conn.w3.eth.get_transaction_receipt(info.value.tx_hash)
    assert receipt["status"] == 0


def test_call_decodes_errors_bubbled_up_from_another_contract(
    clean_conn: ChainConnection, contracts: Contracts, sender: TxSender, operator: LocalAccount
) -> None:
    outsider = clean_conn.new_account()
    fn = contracts.token.functions.setLedger(outsider.address)
    with pytest.raises(ContractRevert) as info:
        sender.call(fn, account=outsider)
    assert info.value.name == "MemberRegistryNotMember"
    assert info.value.args_ == {"account": outsider.address}


def test_wiring_twice_reports_ledger_already_set(
    contracts: Contracts, sender: TxSender, operator: LocalAccount
) -> None:
    ledger = contracts.token.functions.ledger().call()
    with pytest.raises(ContractRevert) as info:
        sender.transact(contracts.token.functions.setLedger(operator.address), account=operator)
    assert info.value.name == "SettlementTokenLedgerAlreadySet"
    assert info.value.args_ == {"ledger": ledger}


def test_decoder_knows_openzeppelin_errors() -> None:
    owner = "0x" + "11" * 20
    operator = "0x" + "22" * 20
    data = _selector("ERC1155MissingApprovalForAll(address,address)") + encode(
        ["address", "address"], [operator, owner]
    )
    err = default_decoder().decode(data)
    assert err.name == "ERC1155MissingApprovalForAll"
    assert err.values == (
        "0x2222222222222222222222222222222222222222",
        "0x1111111111111111111111111111111111111111",
    )


def test_decoder_handles_error_string_and_panic() -> None:
    decoder = RevertDecoder()
    msg = decoder.decode(_selector("Error(string)") + encode(["string"], ["nope"]))
    assert (msg.name, msg.args_) == ("Error", {"message": "nope"})
    panic = decoder.decode(_selector("Panic(uint256)") + encode(["uint256"], [0x11]))
    assert (panic.name, panic.args_) == ("Panic", {"code": 0x11})


def test_decoder_reports_unknown_selector_with_raw_data() -> None:
    data = bytes.fromhex("deadbeef") + b"\x00" * 32
    err = RevertDecoder().decode(data)
    assert err.name == "Unknown"
    assert err.args_ == {"data": data}
    assert err.data == data


def test_decoder_treats_malformed_payload_as_unknown() -> None:
    data = _selector("Panic(uint256)") + b"\x01"
    assert RevertDecoder().decode(data).name == "Unknown"
