"""The indexer against anvil and PostgreSQL: forks, kill -9, one writer, reconcile."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from indexer.cli import app
from indexer.db import make_engine, upgrade
from indexer.errors import ReorgTooDeep, WriterLockError
from indexer.fetch import RpcSource
from indexer.reconcile import reconcile
from tests.factories import World
from tests.indexer.conftest import dump, make_indexer
from tests.indexer.scenario import run_lifecycle, run_random

pytestmark = pytest.mark.anvil

REPO = Path(__file__).resolve().parents[2]


def _chain_logs(world: World) -> list[tuple[str, int]]:
    dep = world.deployment
    logs = RpcSource(world.conn.w3).get_logs(
        dep.start_block,
        world.conn.w3.eth.block_number,
        [dep.registry.address, dep.token.address, dep.receivables.address],
    )
    return sorted((lg["blockHash"].lower(), int(lg["logIndex"], 16)) for lg in logs)


def _mirror_logs(engine: Engine) -> list[tuple[str, int]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT block_hash, log_index FROM ledger_event")).all()
    return sorted((str(h), int(i)) for h, i in rows)


def _fresh_dump(world: World, pg_database: Callable[[], str]) -> dict[str, Any]:
    """The mirror an uninterrupted run from scratch builds of the chain as it is now."""
    engine = make_engine(pg_database())
    upgrade(engine)
    with make_indexer(world, engine) as indexer:
        indexer.sync()
    out = dump(engine, world.deployment.chain_id)
    engine.dispose()
    return out


def _branch_a(w: World) -> None:
    root = w.issue(face=900_000)
    kept, sold = w.split(root, [("supplier", 500_000), ("supplier2", 400_000)], holder="supplier")
    offer = w.post_offer(sold, 380_000, financier="bank")
    w.tx(w.supplier2, w.receivables.functions.acceptOffer(offer))
    w.tx(w.core, w.receivables.functions.repay(root, 300_000))
    w.tx(w.bank, w.token.functions.transfer(w.supplier3.address, 5_000))
    w.tx(w.regulator, w.receivables.functions.freezePiece(kept, "check"))


def _branch_b(w: World, *, blocks: int) -> None:
    for i in range(blocks):
        w.tx(w.bank2, w.token.functions.transfer(w.supplier.address, 1_000 + i))


def test_lifecycle_on_postgres_matches_the_chain(anvil_world: World, pg_engine: Engine) -> None:
    run_lifecycle(anvil_world)
    with make_indexer(anvil_world, pg_engine) as indexer:
        indexer.sync()
    assert _mirror_logs(pg_engine) == _chain_logs(anvil_world)
    report = reconcile(w3=anvil_world.conn.w3, engine=pg_engine, deployment=anvil_world.deployment)
    assert report.ok, report.mismatches
    with pg_engine.connect() as conn:
        typ = conn.execute(
            text(
                "SELECT data_type, numeric_precision, numeric_scale "
                "FROM information_schema.columns "
                "WHERE table_name = 'piece' AND column_name = 'amount'"
            )
        ).one()
    assert tuple(typ) == ("numeric", 78, 0)


@pytest.mark.parametrize("branch_b_blocks", [12, 2], ids=["longer-branch", "shorter-branch"])
def test_fork_rolls_back_to_the_common_ancestor_and_reapplies(
    anvil_world: World,
    pg_engine: Engine,
    pg_database: Callable[[], str],
    branch_b_blocks: int,
) -> None:
    conn = anvil_world.conn
    common = anvil_world.issue(face=250_000)
    fork_point = conn.snapshot()
    _branch_a(anvil_world)
    with make_indexer(anvil_world, pg_engine) as indexer:
        indexer.sync()
        orphaned = set(_mirror_logs(pg_engine))
        conn.revert(fork_point)
        _branch_b(anvil_world, blocks=branch_b_blocks)
        cursor = indexer.sync()
    assert cursor == conn.w3.eth.block_number
    mirror = _mirror_logs(pg_engine)
    assert mirror == _chain_logs(anvil_world)
    assert orphaned - set(mirror), "the orphaned branch's events must be gone"
    with pg_engine.connect() as c:
        roots = c.execute(text("SELECT root_id FROM root")).scalars().all()
        undo_left = c.execute(text("SELECT count(*) FROM indexer_undo")).scalar_one()
    assert roots == [common]
    assert undo_left > 0
    assert dump(pg_engine, anvil_world.deployment.chain_id) == _fresh_dump(anvil_world, pg_database)
    report = reconcile(w3=conn.w3, engine=pg_engine, deployment=anvil_world.deployment)
    assert report.ok, report.mismatches


def test_fork_while_following_block_by_block(anvil_world: World, pg_engine: Engine) -> None:
    conn = anvil_world.conn
    indexer = make_indexer(anvil_world, pg_engine)
    with indexer:
        for _ in range(3):
            fork_point = conn.snapshot()
            _branch_a(anvil_world)
            indexer.sync()
            conn.revert(fork_point)
            _branch_b(anvil_world, blocks=3)
            indexer.sync()
    report = reconcile(w3=conn.w3, engine=pg_engine, deployment=anvil_world.deployment)
    assert report.ok, report.mismatches
    assert _mirror_logs(pg_engine) == _chain_logs(anvil_world)


def test_fork_deeper_than_the_window_stops_the_indexer(
    anvil_world: World, pg_engine: Engine
) -> None:
    conn = anvil_world.conn
    fork_point = conn.snapshot()
    _branch_a(anvil_world)
    _branch_b(anvil_world, blocks=6)
    with make_indexer(anvil_world, pg_engine, reorg_window=4) as indexer:
        indexer.sync()
        conn.revert(fork_point)
        _branch_b(anvil_world, blocks=20)
        with pytest.raises(ReorgTooDeep, match="reorg window 4"):
            indexer.sync()


def test_confirmation_depth_keeps_the_mirror_behind_the_head(
    anvil_world: World, pg_engine: Engine
) -> None:
    _branch_b(anvil_world, blocks=5)
    with make_indexer(anvil_world, pg_engine, confirmation_depth=3) as indexer:
        assert indexer.sync() == anvil_world.conn.w3.eth.block_number - 3


def test_second_concurrent_writer_is_refused(anvil_world: World, pg_engine: Engine) -> None:
    first = make_indexer(anvil_world, pg_engine)
    first.attach()
    try:
        with pytest.raises(WriterLockError, match="only one writer"):
            make_indexer(anvil_world, pg_engine).attach()
    finally:
        first.close()
    second = make_indexer(anvil_world, pg_engine)
    second.attach()
    second.close()


def test_writer_that_lost_its_cursor_cannot_commit(anvil_world: World, pg_engine: Engine) -> None:
    _branch_b(anvil_world, blocks=2)
    with make_indexer(anvil_world, pg_engine) as indexer:
        with pg_engine.begin() as conn:
            conn.execute(text("UPDATE indexer_state SET cursor_block = cursor_block + 1"))
        with pytest.raises(WriterLockError, match="another indexer"):
            indexer.sync()


def _cursor(engine: Engine) -> int:
    with engine.connect() as conn:
        value = conn.execute(text("SELECT cursor_block FROM indexer_state")).scalar()
    return -1 if value is None else int(value)


@pytest.mark.slow
def test_kill_9_mid_backfill_and_restart_loses_and_duplicates_nothing(
    anvil_world: World, pg_database: Callable[[], str], tmp_path: Path
) -> None:
    w = anvil_world
    run_lifecycle(w)
    for i in range(60):
        w.tx(w.bank2, w.token.functions.transfer(w.supplier.address, 1 + i))
        if i % 3 == 0:
            w.issue(face=10_000 + i, supplier="supplier3")
    head = w.conn.w3.eth.block_number
    deployment_path = tmp_path / "deployment.json"
    w.deployment.save(deployment_path)
    url = pg_database()
    engine = make_engine(url)
    env = {
        **os.environ,
        "SCF_CHAIN_PROFILE": "rpc",
        "SCF_CHAIN_RPC_URL": w.conn.anvil.url if w.conn.anvil else "",
        "SCF_INDEXER_DATABASE_URL": url,
        "SCF_INDEXER_INITIAL_BLOCK_RANGE": "1",
        "SCF_INDEXER_MAX_BLOCK_RANGE": "2",
    }
    cmd = [
        sys.executable, "-c", "from indexer.cli import app; app()",
        "index", "--to-block", str(head),
        "--deployment", str(deployment_path), "--no-progress",
    ]  # fmt: skip
    rng = random.Random(7)
    kills = 0
    while kills < 6:
        before = _cursor(engine) if kills else -1
        proc = subprocess.Popen(
            cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        goal = before + rng.randrange(3, 25)
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                if _cursor(engine) >= goal:
                    break
            except Exception:  # schema not created yet
                pass
            time.sleep(rng.uniform(0.0, 0.01))
        if proc.poll() is not None:
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        assert _cursor(engine) < head, "the kills must land mid-backfill"
    final = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stderr[-2000:]
    assert kills >= 3
    assert _cursor(engine) == head
    mirror = _mirror_logs(engine)
    assert len(mirror) == len(set(mirror))
    assert mirror == _chain_logs(w)
    assert dump(engine, w.deployment.chain_id) == _fresh_dump(w, pg_database)
    engine.dispose()


def test_reconcile_command_after_a_random_workload(
    anvil_world: World, pg_engine: Engine, tmp_path: Path
) -> None:
    w = anvil_world
    done = run_random(w, seed=20261127, steps=80)
    assert done.get("issue", 0) > 5 and done.get("split", 0) > 3
    with make_indexer(w, pg_engine) as indexer:
        indexer.sync()
    deployment_path = tmp_path / "deployment.json"
    w.deployment.save(deployment_path)
    args = [
        "reconcile", "--profile", "rpc", "--rpc-url", w.conn.anvil.url if w.conn.anvil else "",
        "--deployment", str(deployment_path),
        "--database-url", pg_engine.url.render_as_string(hide_password=False),
    ]  # fmt: skip
    runner = CliRunner()
    ok = runner.invoke(app, args)
    assert ok.exit_code == 0, ok.output
    assert "0 mismatches" in ok.output
    bank = w.bank.address.lower()
    with pg_engine.begin() as conn:
        conn.execute(
            text("UPDATE cash_balance SET balance = balance + 1 WHERE address = :a"), {"a": bank}
        )
    bad = runner.invoke(app, args)
    assert bad.exit_code == 1, bad.output
    assert "mismatches" in bad.output and bank[:10] in bad.output


def test_index_command_backfills_with_a_progress_report(
    anvil_world: World, pg_engine: Engine, tmp_path: Path
) -> None:
    w = anvil_world
    run_lifecycle(w)
    head = w.conn.w3.eth.block_number
    deployment_path = tmp_path / "deployment.json"
    w.deployment.save(deployment_path)
    result = CliRunner().invoke(
        app,
        [
            "index", "--to-block", str(head), "--profile", "rpc",
            "--rpc-url", w.conn.anvil.url if w.conn.anvil else "",
            "--deployment", str(deployment_path),
            "--database-url", pg_engine.url.render_as_string(hide_password=False),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "events/s" in result.output
    assert _mirror_logs(pg_engine) == _chain_logs(w)


def test_index_command_refuses_a_mirror_of_another_deployment(
    anvil_world: World, pg_engine: Engine, tmp_path: Path
) -> None:
    w = anvil_world
    with make_indexer(w, pg_engine) as indexer:
        indexer.sync()
    data = w.deployment.to_json()
    data["receivables"]["address"] = "0x" + "42" * 20
    deployment_path = tmp_path / "other.json"
    deployment_path.write_text(json.dumps(data))
    result = CliRunner().invoke(
        app,
        [
            "index", "--to-block", "1", "--profile", "rpc",
            "--rpc-url", w.conn.anvil.url if w.conn.anvil else "",
            "--deployment", str(deployment_path),
            "--database-url", pg_engine.url.render_as_string(hide_password=False),
        ],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "another chain or deployment" in " ".join(result.output.split())
