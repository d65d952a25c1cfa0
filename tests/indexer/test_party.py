"""`ledger_event_party`: who each stored event concerns, for the auditor's party filter."""

from __future__ import annotations

import pytest
from eth_utils.crypto import keccak
from sqlalchemy import Engine, text

from chain.abi import signature
from indexer.db import downgrade, upgrade
from tests.factories import World
from tests.indexer.conftest import make_indexer
from tests.indexer.scenario import run_lifecycle

ZERO = "0x" + "00" * 20
Row = tuple[int, int, str]  # block number, log index, party


def _expected(world: World) -> set[Row]:
    """Every non-zero address argument of every log, decoded by web3 (not by our decoder)."""
    dep = world.deployment
    w3 = world.conn.w3
    out: set[Row] = set()
    for contract in (world.registry, world.token, world.receivables):
        by_topic = {
            "0x" + keccak(text=signature(item)).hex(): item
            for item in contract.abi
            if item["type"] == "event"
        }
        for lg in w3.eth.get_logs(
            {"fromBlock": dep.start_block, "toBlock": "latest", "address": contract.address}
        ):
            item = by_topic[lg["topics"][0].to_0x_hex()]
            decoded = getattr(contract.events, item["name"])().process_log(lg)
            for inp in item["inputs"]:
                value = decoded["args"][inp["name"]]
                values = value if inp["type"] == "address[]" else [value]
                if inp["type"] in ("address", "address[]"):
                    out |= {
                        (lg["blockNumber"], lg["logIndex"], v.lower())
                        for v in values
                        if v.lower() != ZERO
                    }
    return out


def _stored(engine: Engine) -> list[Row]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT e.block_number, e.log_index, p.party FROM ledger_event_party p "
                "JOIN ledger_event e ON e.id = p.event_id AND e.chain_id = p.chain_id "
                "WHERE p.block_number = e.block_number"
            )
        ).all()
        total = conn.execute(text("SELECT count(*) FROM ledger_event_party")).scalar_one()
    assert total == len(rows)  # every row points at its event, with the event's block
    return [(int(b), int(i), str(p)) for b, i, p in rows]


def _check_lifecycle(world: World, engine: Engine) -> None:
    run_lifecycle(world)
    with make_indexer(world, engine) as indexer:
        indexer.sync()
    stored = _stored(engine)
    assert len(stored) == len(set(stored))  # one row per event and distinct party
    assert set(stored) == _expected(world)
    # What an auditor asking about supplier2 sees: its cancelled receivable, a piece of a
    # split, a batch transfer to it, the offer it accepted, its claim's payout.
    supplier2 = world.members["supplier2"].address.lower()
    with engine.connect() as conn:
        events = conn.execute(
            text(
                "SELECT e.event FROM ledger_event_party p JOIN ledger_event e ON e.id = p.event_id "
                "WHERE p.party = :p ORDER BY p.event_id"
            ),
            {"p": supplier2},
        ).all()
    names = [n for (n,) in events]
    assert {
        "ReceivableCancelled",
        "PieceSplit",
        "TransferBatch",
        "OfferAccepted",
        "PiecePaid",
    } <= set(names)
    assert ZERO not in {p for _, _, p in stored}


def test_party_rows_of_a_lifecycle_on_sqlite(world: World, sqlite_engine: Engine) -> None:
    _check_lifecycle(world, sqlite_engine)


@pytest.mark.anvil
def test_party_rows_of_a_lifecycle_on_postgres(anvil_world: World, pg_engine: Engine) -> None:
    _check_lifecycle(anvil_world, pg_engine)


def _check_migration(world: World, engine: Engine) -> None:
    run_lifecycle(world)
    with make_indexer(world, engine) as indexer:
        indexer.sync()
    written = sorted(_stored(engine))
    downgrade(engine, "0002")
    upgrade(engine)
    assert sorted(_stored(engine)) == written


def test_migration_derives_the_party_rows_of_an_existing_sqlite_mirror(
    world: World, sqlite_engine: Engine
) -> None:
    _check_migration(world, sqlite_engine)


@pytest.mark.anvil
def test_migration_derives_the_party_rows_of_an_existing_postgres_mirror(
    anvil_world: World, pg_engine: Engine
) -> None:
    _check_migration(anvil_world, pg_engine)
