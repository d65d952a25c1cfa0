"""The indexer end to end on eth-tester and SQLite (the embedded profile)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, text

from chain.deploy import DeployedContract, Deployment
from chain.enums import OfferStatus, PieceStatus, RootStatus
from indexer.errors import AttachError, WriterLockError
from indexer.fetch import Web3Source
from indexer.reconcile import reconcile
from indexer.runner import Indexer
from indexer.settings import IndexerSettings
from tests.factories import World
from tests.indexer.conftest import dump, make_indexer
from tests.indexer.scenario import run_lifecycle


def _rows(engine: Engine, sql: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql)).all()]


def _chain_logs(world: World) -> list[tuple[str, int]]:
    dep = world.deployment
    logs = Web3Source(world.conn.w3).get_logs(
        dep.start_block,
        world.conn.w3.eth.block_number,
        [dep.registry.address, dep.token.address, dep.receivables.address],
    )
    return sorted((lg["blockHash"].lower(), int(lg["logIndex"], 16)) for lg in logs)


def test_lifecycle_produces_exactly_the_expected_rows(world: World, sqlite_engine: Engine) -> None:
    ids = run_lifecycle(world)
    m = {name: acct.address.lower() for name, acct in world.members.items()}
    with make_indexer(world, sqlite_engine) as indexer:
        cursor = indexer.sync()
    assert cursor == world.conn.w3.eth.block_number

    stored = sorted(_rows(sqlite_engine, "SELECT block_hash, log_index FROM ledger_event"))
    assert stored == _chain_logs(world)
    by_name = dict(_rows(sqlite_engine, "SELECT event, count(*) FROM ledger_event GROUP BY event"))
    assert by_name["ReceivableRegistered"] == 6
    # 4 confirms, 2 burns (split, refuse), 2 mints, 2 moves
    assert by_name["TransferSingle"] == 4 + 2 + 2 + 1 + 1
    assert by_name["TransferBatch"] == 1

    roots = _rows(
        sqlite_engine,
        "SELECT root_id, status, face_value, repaid, distributed, frozen, live_pieces"
        " FROM root ORDER BY 1",
    )
    assert roots == [
        (ids.r1, RootStatus.SETTLED, 1_000_000, 1_000_000, 1_000_000, 0, 2),
        (ids.r2, RootStatus.REJECTED, 2_000, 0, 0, 0, 0),
        (ids.r3, RootStatus.CANCELLED, 3_000, 0, 0, 0, 0),
        (ids.r4, RootStatus.CLOSED, 500_000, 200_000, 200_000, 0, 1),
        (ids.r5, RootStatus.CONFIRMED, 300_000, 0, 0, 0, 1),
        (ids.r6, RootStatus.REFUSED, 7_000, 0, 0, 0, 0),
    ]
    pieces = _rows(
        sqlite_engine,
        "SELECT piece_id, root_id, parent_id, depth, holder, amount, status, paid_out "
        "FROM piece ORDER BY 1",
    )
    assert pieces == [
        (ids.r1, ids.r1, None, 0, m["supplier"], 1_000_000, PieceStatus.SPLIT, 0),
        (ids.r2, ids.r2, None, 0, m["supplier"], 2_000, PieceStatus.VOID, 0),
        (ids.r3, ids.r3, None, 0, m["supplier2"], 3_000, PieceStatus.VOID, 0),
        (ids.r4, ids.r4, None, 0, m["supplier2"], 500_000, PieceStatus.ACTIVE, 200_000),
        (ids.r5, ids.r5, None, 0, m["supplier2"], 300_000, PieceStatus.ACTIVE, 0),
        (ids.c1, ids.r1, ids.r1, 1, m["supplier3"], 600_000, PieceStatus.ACTIVE, 600_000),
        (ids.c2, ids.r1, ids.r1, 1, m["bank"], 400_000, PieceStatus.ACTIVE, 400_000),
        (ids.r6, ids.r6, None, 0, m["supplier3"], 7_000, PieceStatus.VOID, 0),
    ]
    offers = _rows(
        sqlite_engine, "SELECT offer_id, piece_id, financier, price, status, seller FROM offer"
    )
    assert sorted(offers) == [
        (ids.o1, ids.c2, m["bank"], 390_000, OfferStatus.ACCEPTED, m["supplier2"]),
        (ids.o2, ids.c1, m["bank2"], 580_000, OfferStatus.CANCELLED, None),
    ]
    assert _rows(sqlite_engine, "SELECT amount, total_repaid FROM repayment ORDER BY 1") == [
        (200_000, 200_000),
        (400_000, 400_000),
        (600_000, 1_000_000),
    ]
    assert _rows(sqlite_engine, "SELECT count(*), sum(amount) FROM piece_payment") == [
        (3, 1_200_000)
    ]
    holdings = _rows(
        sqlite_engine,
        "SELECT piece_id, holder, to_block IS NULL FROM holding ORDER BY piece_id, from_block",
    )
    assert holdings == [
        (ids.r1, m["supplier"], 0),
        (ids.r4, m["supplier"], 0),
        (ids.r4, m["supplier2"], 1),
        (ids.r5, m["supplier"], 0),
        (ids.r5, m["supplier2"], 1),
        (ids.c1, m["supplier"], 0),
        (ids.c1, m["supplier3"], 1),
        (ids.c2, m["supplier2"], 0),
        (ids.c2, m["bank"], 1),
        (ids.r6, m["supplier3"], 0),
    ]
    cash = dict(_rows(sqlite_engine, "SELECT address, balance FROM cash_balance"))
    for name in ("core", "bank", "bank2", "supplier", "supplier2", "supplier3"):
        assert cash.get(m[name], 0) == world.cash(world.members[name]), name
    report = reconcile(w3=world.conn.w3, engine=sqlite_engine, deployment=world.deployment)
    assert report.ok, report.mismatches
    assert report.checked["pieces"] == 8 and report.checked["offers"] == 2


def test_holding_as_of_block(world: World, sqlite_engine: Engine) -> None:
    ids = run_lifecycle(world)
    with make_indexer(world, sqlite_engine) as indexer:
        indexer.sync()
    [(sold_at,)] = _rows(sqlite_engine, f"SELECT closed_block FROM offer WHERE offer_id = {ids.o1}")
    as_of = (
        "SELECT holder FROM holding WHERE piece_id = {p} AND from_block <= {n} "
        "AND (to_block IS NULL OR to_block > {n})"
    )
    m = {name: acct.address.lower() for name, acct in world.members.items()}
    assert _rows(sqlite_engine, as_of.format(p=ids.c2, n=sold_at - 1)) == [(m["supplier2"],)]
    assert _rows(sqlite_engine, as_of.format(p=ids.c2, n=sold_at)) == [(m["bank"],)]


def test_resync_is_idempotent_and_batch_size_does_not_matter(
    world: World, sqlite_engine: Engine, tmp_path: Any
) -> None:
    run_lifecycle(world)
    with make_indexer(world, sqlite_engine, tester_max_block_range=64) as indexer:
        indexer.sync()
        first = dump(sqlite_engine, world.deployment.chain_id)
        indexer.sync()
    assert dump(sqlite_engine, world.deployment.chain_id) == first
    from indexer.db import make_engine, upgrade

    other = make_engine(f"sqlite:///{tmp_path / 'one-block-batches.sqlite3'}")
    upgrade(other)
    with make_indexer(world, other, tester_max_block_range=1, initial_block_range=1) as indexer:
        indexer.sync()
    assert dump(other, world.deployment.chain_id) == first
    other.dispose()


def test_amounts_beyond_int64_are_exact_on_sqlite(world: World, sqlite_engine: Engine) -> None:
    huge = 2**200 + 12345
    world.tx(world.operator, world.token.functions.mint(world.bank.address, huge))
    with make_indexer(world, sqlite_engine) as indexer:
        indexer.sync()
    [(balance,)] = _rows(
        sqlite_engine,
        f"SELECT balance FROM cash_balance WHERE address = '{world.bank.address.lower()}'",
    )
    assert int(balance) == world.cash(world.bank)
    assert reconcile(w3=world.conn.w3, engine=sqlite_engine, deployment=world.deployment).ok


def test_reconcile_detects_a_planted_mismatch(world: World, sqlite_engine: Engine) -> None:
    ids = run_lifecycle(world)
    with make_indexer(world, sqlite_engine) as indexer:
        indexer.sync()
    with sqlite_engine.begin() as conn:
        conn.execute(text(f"UPDATE piece SET holder = '0x{'ee' * 20}' WHERE piece_id = {ids.c1}"))
        conn.execute(text(f"UPDATE root SET status = 2 WHERE root_id = {ids.r1}"))
    report = reconcile(w3=world.conn.w3, engine=sqlite_engine, deployment=world.deployment)
    assert {(x.kind, x.key, x.field) for x in report.mismatches} == {
        ("piece", str(ids.c1), "holder"),
        ("root", str(ids.r1), "status"),
    }


def test_mirror_refuses_another_deployment(world: World, sqlite_engine: Engine) -> None:
    with make_indexer(world, sqlite_engine) as indexer:
        indexer.sync()
    dep = world.deployment
    fake = DeployedContract("0x" + "42" * 20, dep.receivables.block_number, "0x")
    other = Deployment(dep.chain_id, dep.registry, dep.token, fake, dep.set_ledger_tx_hash)
    stranger = Indexer(w3=world.conn.w3, deployment=other, engine=sqlite_engine)
    with pytest.raises(AttachError, match="receivables 0x48"):
        stranger.attach()


def test_mirror_refuses_another_chain(world: World, sqlite_engine: Engine) -> None:
    with make_indexer(world, sqlite_engine) as indexer:
        indexer.sync()
    with sqlite_engine.begin() as conn:
        conn.execute(text(f"UPDATE indexer_state SET genesis_hash = '0x{'00' * 32}'"))
    with pytest.raises(AttachError, match="genesis"):
        make_indexer(world, sqlite_engine).attach()


def test_second_writer_on_the_same_sqlite_file_is_refused(
    world: World, sqlite_engine: Engine
) -> None:
    with (
        make_indexer(world, sqlite_engine),
        pytest.raises(WriterLockError, match="only one writer"),
    ):
        make_indexer(world, sqlite_engine).attach()
    make_indexer(world, sqlite_engine).attach()  # released on close


def test_fork_on_eth_tester_is_rolled_back_and_reapplied(
    world: World, sqlite_engine: Engine, tmp_path: Any
) -> None:
    conn = world.conn
    fork_point = conn.snapshot()
    ids = run_lifecycle(world)
    with make_indexer(world, sqlite_engine) as indexer:
        indexer.sync()
        conn.revert(fork_point)
        other = world.issue(face=777_000)
        world.split(other, [("supplier2", 700_000), ("supplier3", 77_000)], holder="supplier")
        indexer.sync()
    roots = _rows(sqlite_engine, "SELECT root_id, face_value FROM root")
    assert roots == [(other, 777_000)] and other == ids.r1
    report = reconcile(w3=conn.w3, engine=sqlite_engine, deployment=world.deployment)
    assert report.ok, report.mismatches
    from indexer.db import make_engine, upgrade

    fresh = make_engine(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    upgrade(fresh)
    with make_indexer(world, fresh) as indexer:
        indexer.sync()
    assert dump(sqlite_engine, world.deployment.chain_id) == dump(fresh, world.deployment.chain_id)
    fresh.dispose()


def test_in_process_follower_catches_up_with_new_blocks(
    world: World, sqlite_engine: Engine
) -> None:
    indexer = make_indexer(world, sqlite_engine, poll_seconds=0.05)
    indexer.start()
    try:
        root = world.issue(face=123_400)
        assert indexer.wait_for_block(world.conn.w3.eth.block_number, timeout=20)
        assert _rows(sqlite_engine, f"SELECT face_value FROM root WHERE root_id = {root}") == [
            (123_400,)
        ]
    finally:
        indexer.close()
    assert indexer.error is None


def test_settings_default_to_an_sqlite_file_under_var() -> None:
    assert IndexerSettings().database_url.endswith("var/indexer.sqlite3")
