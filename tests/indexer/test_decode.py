"""Decoding recorded logs of the lifecycle scenario (no chain, no database)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from indexer.decode import DecodedEvent, LogDecoder, args_json, json_args, ledger_decoder
from indexer.errors import DecodeError

DATA = json.loads((Path(__file__).parent / "data" / "lifecycle.json").read_text())


@pytest.fixture(scope="module")
def decoder() -> LogDecoder:
    return ledger_decoder(
        registry=DATA["registry"], token=DATA["token"], receivables=DATA["receivables"]
    )


@pytest.fixture(scope="module")
def events(decoder: LogDecoder) -> list[DecodedEvent]:
    return decoder.decode_all(DATA["logs"])


def _first(events: list[DecodedEvent], name: str) -> DecodedEvent:
    return next(e for e in events if e.event == name)


def test_every_recorded_log_decodes_to_its_contract_and_event(events: list[DecodedEvent]) -> None:
    counts = Counter((e.contract, e.event) for e in events)
    assert counts[("MemberRegistry", "MemberAdded")] == 11
    assert counts[("Receivables", "ReceivableRegistered")] == 6
    assert counts[("Receivables", "ReceivableRefused")] == 1
    assert counts[("Receivables", "ReceivableClosed")] == 1
    assert counts[("Receivables", "PieceSplit")] == 1
    assert counts[("Receivables", "TransferBatch")] == 1
    assert counts[("Receivables", "PiecePaid")] == 3
    assert counts[("SettlementToken", "Approval")] == 1
    assert counts[("Receivables", "ApprovalForAll")] == 1
    assert sum(counts.values()) == len(DATA["logs"])


def test_static_event_arguments_are_sliced_to_python_values(events: list[DecodedEvent]) -> None:
    reg = _first(events, "ReceivableRegistered")
    members = DATA["members"]
    assert reg.args["rootId"] == 1
    assert reg.args["supplier"] == members["supplier"]
    assert reg.args["debtor"] == members["core"]
    assert reg.args["faceValue"] == 1_000_000
    assert isinstance(reg.args["dueDate"], int)
    assert reg.args["invoiceKey"].startswith("0x") and len(reg.args["invoiceKey"]) == 66
    cancelled = _first(events, "OfferCancelled")
    assert cancelled.args["expired"] is False
    assert cancelled.args["refund"] == 580_000


def test_dynamic_event_arguments_arrays_and_strings_are_decoded(events: list[DecodedEvent]) -> None:
    split = _first(events, "PieceSplit")
    members = DATA["members"]
    assert split.args == {
        "parentId": 1,
        "rootId": 1,
        "childIds": [6, 7],
        "holders": [members["supplier"], members["supplier2"]],
        "amounts": [600_000, 400_000],
    }
    assert _first(events, "ReceivableRejected").args["reason"] == "wrong amount"
    batch = _first(events, "TransferBatch")
    assert batch.args["ids"] == [4, 5] and batch.args["values"] == [500_000, 300_000]


def test_event_positions_are_in_chain_order(events: list[DecodedEvent]) -> None:
    positions = [e.position for e in events]
    assert positions == sorted(positions)
    assert all(
        e.block_hash.startswith("0x") and e.block_hash == e.block_hash.lower() for e in events
    )


def test_fast_path_agrees_with_eth_abi_on_every_recorded_log(decoder: LogDecoder) -> None:
    for log in DATA["logs"]:
        ev = decoder.decode(log)
        reference = decoder.event_decoder(log).decode_data_with_eth_abi(log["data"])
        assert {k: ev.args[k] for k in reference} == reference, ev.event


def test_args_json_is_the_compact_json_of_json_args(events: list[DecodedEvent]) -> None:
    tricky = {"reason": 'quote " and \\ backslash, 中文', "n": 2**255, "ok": False, "ids": [1]}
    for args in [*(e.args for e in events), tricky]:
        assert json.loads(args_json(args)) == json_args(args)
    for e in events:  # the generated per-event serialiser
        assert json.loads(e.args_json) == json_args(e.args), e.event


def test_json_args_keeps_integers_lossless_as_decimal_strings() -> None:
    assert json_args({"a": 2**200, "b": [1, 2], "c": True, "d": "0xab"}) == {
        "a": str(2**200),
        "b": ["1", "2"],
        "c": True,
        "d": "0xab",
    }


def test_unknown_topic_is_refused(decoder: LogDecoder) -> None:
    log: dict[str, Any] = dict(DATA["logs"][0])
    log["topics"] = ["0x" + "ab" * 32, *log["topics"][1:]]
    with pytest.raises(DecodeError, match="unknown event"):
        decoder.decode(log)


def test_log_from_an_unwatched_address_is_refused(decoder: LogDecoder) -> None:
    log: dict[str, Any] = dict(DATA["logs"][0])
    log["address"] = "0x" + "12" * 20
    with pytest.raises(DecodeError):
        decoder.decode(log)


def test_truncated_data_is_refused(decoder: LogDecoder) -> None:
    log: dict[str, Any] = dict(_raw("ReceivableRegistered", decoder))
    log["data"] = log["data"][:66]
    with pytest.raises(DecodeError, match="too short"):
        decoder.decode(log)


def _raw(name: str, decoder: LogDecoder) -> dict[str, Any]:
    return next(lg for lg in DATA["logs"] if decoder.decode(lg).event == name)
