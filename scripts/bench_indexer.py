"""Benchmark: backfill a ≥100k-event ledger from anvil into PostgreSQL, indexer vs naive.

    .venv/bin/python scripts/bench_indexer.py [--roots 2400] [--naive-seconds 60]

1. Starts anvil (zero gas, automine off), deploys the consortium and generates a ledger:
   every receivable is issued, split into 8 pieces, two pieces sold to banks, two passed on,
   repaid and distributed — about 45 events per receivable. Transactions are sent unsigned
   (anvil impersonation) in JSON-RPC batches and mined into full blocks.
2. Backfills it into a fresh PostgreSQL database with the indexer (raw events and all derived
   state), in a child process so that its peak RSS is its own; once over half the blocks and
   once over all of them, to show memory does not grow with the number of events.
3. Backfills part of it with the naive baseline: web3's `contract.events.X.get_logs` per event
   type (20 blocks a call) and one ORM insert per row, from the middle block for a fixed time
   budget; its rate is extrapolated to the whole ledger.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from web3 import Web3

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chain.connection import ChainConnection, connect
from chain.deploy import Deployment
from chain.settings import ChainSettings
from scripts.cpu import postgres_cpu_seconds, process_cpu_seconds, reference_ms

DAY = 86_400
ADMIN_DSN = os.environ.get("SCF_BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
GAS = {"issue": 400_000, "split": 2_500_000, "postOffer": 300_000, "acceptOffer": 300_000,
       "safeTransferFrom": 200_000, "repay": 300_000, "distribute": 3_000_000}  # fmt: skip


# -- ledger generation -------------------------------------------------------------------------


class Pump:
    """Unsigned transactions (anvil impersonation) sent in JSON-RPC batches, mined in blocks."""

    def __init__(self, conn: ChainConnection) -> None:
        self.conn = conn
        self.provider: Any = conn.w3.provider
        self.nonces: dict[str, int] = {}
        self.queue: list[dict[str, Any]] = []
        conn.rpc("anvil_autoImpersonateAccount", [True])
        conn.rpc("evm_setAutomine", [False])

    def send(self, sender: str, to: str, data: str, gas: int) -> None:
        if sender not in self.nonces:
            self.nonces[sender] = self.conn.w3.eth.get_transaction_count(
                Web3.to_checksum_address(sender), "pending"
            )
        nonce = self.nonces[sender]
        self.nonces[sender] = nonce + 1
        self.queue.append({"from": sender, "to": to, "data": data, "gas": hex(gas),
                           "gasPrice": "0x0", "nonce": hex(nonce)})  # fmt: skip

    def mine_all(self, per_block: int = 100) -> None:
        """Send what is queued, `per_block` transactions per mined block."""
        for i in range(0, len(self.queue), per_block):
            reqs = [("eth_sendTransaction", [tx]) for tx in self.queue[i : i + per_block]]
            for resp in self.provider.make_batch_request(reqs):
                if resp.get("error"):
                    raise RuntimeError(resp["error"])
            self.conn.rpc("evm_mine")
        self.queue.clear()
        while int(self.conn.rpc("txpool_status")["pending"], 16) > 0:
            self.conn.rpc("evm_mine")


def generate(conn: ChainConnection, roots: int) -> tuple[Any, int]:
    """Deploy and fill the ledger; returns (world, events)."""
    from tests.factories import build_world

    world = build_world(conn)
    rc = world.receivables
    m = {n: a.address for n, a in world.members.items()}
    pump = Pump(conn)
    suppliers = ["supplier", "supplier2", "supplier3"]
    cores, banks = ["core", "core2"], ["bank", "bank2"]
    w3 = conn.w3
    due = conn.latest_timestamp() + 30 * DAY

    def logs(event: Any, since: int) -> list[Any]:
        return list(event.get_logs(from_block=since, to_block=w3.eth.block_number))

    t0 = time.perf_counter()
    since = w3.eth.block_number + 1
    for i in range(roots):
        key = uuid.uuid4().bytes + bytes(16)
        data = rc.encode_abi("issue", [m[suppliers[i % 3]], 800_000, due, bytes(32), key])
        pump.send(m[cores[i % 2]], rc.address, data, GAS["issue"])
    pump.mine_all()
    issued = [(e.args.rootId, e.args.supplier) for e in logs(rc.events.ReceivableRegistered, since)]

    since = w3.eth.block_number + 1
    for rid, supplier in issued:
        others = [m[s] for s in suppliers if m[s] != supplier]
        holders = [supplier] * 6 + others
        pump.send(supplier, rc.address, rc.encode_abi("split", [rid, holders, [100_000] * 8]),
                  GAS["split"])  # fmt: skip
    pump.mine_all()
    splits = [
        (list(e.args.childIds), list(e.args.holders)) for e in logs(rc.events.PieceSplit, since)
    ]

    since = w3.eth.block_number + 1
    expiry = conn.latest_timestamp() + 7 * DAY
    for k, (children, holders) in enumerate(splits):
        for j in (0, 1):
            bank = m[banks[(k + j) % 2]]
            pump.send(bank, rc.address, rc.encode_abi("postOffer", [children[j], 97_000, expiry]),
                      GAS["postOffer"])  # fmt: skip
        for j in (2, 3):
            to = holders[6] if holders[j] != holders[6] else holders[7]
            data = rc.encode_abi("safeTransferFrom", [holders[j], to, children[j], 100_000, b""])
            pump.send(holders[j], rc.address, data, GAS["safeTransferFrom"])
    pump.mine_all()
    offers = [(e.args.offerId, e.args.pieceId) for e in logs(rc.events.OfferPosted, since)]
    holder_of = {
        c: h for children, holders in splits for c, h in zip(children, holders, strict=True)
    }
    for oid, pid in offers:
        pump.send(holder_of[pid], rc.address, rc.encode_abi("acceptOffer", [oid]),
                  GAS["acceptOffer"])  # fmt: skip
    for k, (rid, _) in enumerate(issued):
        pump.send(m[cores[k % 2]], rc.address, rc.encode_abi("repay", [rid, 800_000]), GAS["repay"])
    pump.mine_all()
    conn.rpc("evm_increaseTime", [31 * DAY])
    conn.rpc("evm_mine")
    for rid, _ in issued:
        pump.send(m["operator"], rc.address, rc.encode_abi("distribute", [rid, 16]),
                  GAS["distribute"])  # fmt: skip
    pump.mine_all()
    dep = world.deployment
    events = 0
    for start in range(dep.start_block, w3.eth.block_number + 1, 2000):
        addresses = [dep.registry.address, dep.token.address, dep.receivables.address]
        end = min(start + 1999, w3.eth.block_number)
        params = {"fromBlock": hex(start), "toBlock": hex(end), "address": addresses}
        events += len(conn.rpc("eth_getLogs", [params]))
    print(f"generated {events} events in {w3.eth.block_number - dep.start_block + 1} blocks "
          f"({len(issued)} receivables) in {time.perf_counter() - t0:.1f}s")  # fmt: skip
    return world, events


# -- databases ---------------------------------------------------------------------------------


@contextmanager
def scratch_database(tag: str) -> Iterator[str]:
    name = f"scf_bench_{tag}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield (
            ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
            + "/"
            + name
        )
    finally:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- the two backfills (each in a child process) -----------------------------------------------


def _indexer_child(
    url: str, rpc_url: str, dep_json: dict[str, Any], to_block: int, anvil_pid: int, q: Any
) -> None:
    from indexer.db import make_engine, upgrade
    from indexer.runner import Indexer
    from indexer.settings import IndexerSettings

    conn = connect(ChainSettings(profile="rpc", rpc_url=rpc_url))
    engine = make_engine(url)
    upgrade(engine)
    indexer = Indexer(w3=conn.w3, deployment=Deployment.from_json(dep_json), engine=engine,
                      settings=IndexerSettings(database_url=url))  # fmt: skip
    indexer.attach()
    events = 0

    def count(report: Any) -> None:
        nonlocal events
        events += report.events

    database = url.rsplit("/", 1)[1]
    pg0, anvil0 = postgres_cpu_seconds(database), process_cpu_seconds(anvil_pid)
    t0, c0 = time.perf_counter(), time.process_time()
    indexer.sync(to_block, on_batch=count)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    pg, anvil = postgres_cpu_seconds(database) - pg0, process_cpu_seconds(anvil_pid) - anvil0
    indexer.close()
    q.put({"events": events, "seconds": seconds, "cpu": cpu, "peak_rss_mb": _peak_rss_mb(),
           "pg_cpu": pg, "anvil_cpu": anvil})  # fmt: skip


def _naive_child(
    url: str,
    rpc_url: str,
    dep_json: dict[str, Any],
    span: tuple[int, int, float],
    q: Any,
) -> None:
    """From block span[0] towards span[1], 20 blocks per get_logs, until span[2] seconds."""
    from sqlmodel import Session

    from chain.deploy import Contracts
    from indexer.db import make_engine, upgrade
    from indexer.decode import json_args
    from indexer.models import LedgerEvent

    conn = connect(ChainSettings(profile="rpc", rpc_url=rpc_url))
    dep = Deployment.from_json(dep_json)
    contracts = Contracts.bind(conn.w3, dep)
    engine = make_engine(url)
    upgrade(engine)
    events = 0
    first, to_block, budget = span
    last = first - 1
    t0 = time.perf_counter()
    with Session(engine) as session:
        for start in range(first, to_block + 1, 20):
            if time.perf_counter() - t0 > budget:
                break
            end = min(start + 19, to_block)
            last = end
            for name, contract in (("MemberRegistry", contracts.registry),
                                   ("SettlementToken", contracts.token),
                                   ("Receivables", contracts.receivables)):  # fmt: skip
                for item in contract.abi:
                    if item["type"] != "event":
                        continue
                    event = getattr(contract.events, item["name"])
                    for lg in event.get_logs(from_block=start, to_block=end):
                        args = {
                            k: (v.hex() if isinstance(v, bytes) else v)
                            for k, v in lg["args"].items()
                        }
                        session.add(LedgerEvent(
                            chain_id=dep.chain_id, block_number=lg["blockNumber"],
                            block_hash=lg["blockHash"].to_0x_hex(),
                            tx_hash=lg["transactionHash"].to_0x_hex(),
                            tx_index=lg["transactionIndex"], log_index=lg["logIndex"],
                            contract=name, address=lg["address"].lower(), event=lg["event"],
                            args=json_args({k: (list(v) if isinstance(v, tuple) else v)
                                            for k, v in args.items()}),
                        ))  # fmt: skip
                        session.flush()
                        events += 1
            session.commit()
    q.put({"events": events, "seconds": time.perf_counter() - t0, "peak_rss_mb": _peak_rss_mb(),
           "blocks": (first, last)})  # fmt: skip


def _peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM; unlike ru_maxrss it is not inherited across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(target: Any, *args: Any) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, q))
    proc.start()
    result: dict[str, Any] = q.get()
    proc.join()
    return result


# -- main --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--roots", type=int, default=2400, help="receivables (≈45 events each)")
    parser.add_argument("--naive-seconds", type=float, default=60.0,
                        help="naive baseline time budget, from the middle block")  # fmt: skip
    opts = parser.parse_args()
    reference = reference_ms()  # before anything else runs
    settings = ChainSettings(profile="anvil", anvil_gas_limit=60_000_000)
    with connect(settings) as conn:
        world, total = generate(conn, opts.roots)
        assert conn.anvil is not None
        rpc_url = conn.anvil.url
        anvil_pid = conn.anvil.proc.pid
        dep = world.deployment
        head = conn.w3.eth.block_number
        dep_json = dep.to_json()
        half = dep.start_block + (head - dep.start_block) // 2
        with scratch_database("half") as url:
            half_run = run_child(_indexer_child, url, rpc_url, dep_json, half, anvil_pid)
        with scratch_database("indexer") as url:
            load0 = os.getloadavg()[0]
            full = run_child(_indexer_child, url, rpc_url, dep_json, head, anvil_pid)
        with scratch_database("naive") as url:
            naive = run_child(
                _naive_child, url, rpc_url, dep_json, (half, head, opts.naive_seconds)
            )

    rate = full["events"] / full["seconds"]
    naive_rate = naive["events"] / naive["seconds"]
    print()
    print(f"ledger: {total} events in blocks {dep.start_block}..{head}")
    print(f"indexer (raw + derived state), all blocks:  {full['events']:>7} events "
          f"in {full['seconds']:6.2f}s = {rate:>8,.0f} events/s, "
          f"peak RSS {full['peak_rss_mb']:.0f} MB; indexer process CPU {full['cpu']:.2f}s "
          f"= {full['events'] / full['cpu']:,.0f} events per CPU-second")  # fmt: skip
    print(f"indexer, first half of the blocks:          {half_run['events']:>7} events "
          f"in {half_run['seconds']:6.2f}s = {half_run['events'] / half_run['seconds']:>8,.0f} "
          f"events/s, peak RSS {half_run['peak_rss_mb']:.0f} MB")  # fmt: skip
    b0, b1 = naive["blocks"]
    print(f"naive (get_logs per event + ORM insert per row), measured on blocks "
          f"{b0}..{b1}: {naive['events']} events in {naive['seconds']:.2f}s "
          f"= {naive_rate:,.0f} events/s (extrapolated to all {total} events: "
          f"{total / naive_rate:.0f}s), peak RSS {naive['peak_rss_mb']:.0f} MB")  # fmt: skip
    print(f"speed-up: {rate / naive_rate:.1f}x")
    total_cpu = full["cpu"] + full["pg_cpu"] + full["anvil_cpu"]
    print(f"CPU during the indexer backfill: indexer {full['cpu']:.2f}s, PostgreSQL "
          f"{full['pg_cpu']:.2f}s (its database's backends and the WAL writer), "
          f"anvil {full['anvil_cpu']:.2f}s; "
          f"{1e6 * total_cpu / full['events']:.1f} CPU-us per event; {os.cpu_count()} cores, "
          f"load average {load0:.1f} before the run")  # fmt: skip
    print(f"this machine's reference workload (scripts/cpu.py): {reference:.0f} ms a core "
          "(lower is faster; compare figures only between runs with a like figure)")  # fmt: skip


if __name__ == "__main__":
    main()
