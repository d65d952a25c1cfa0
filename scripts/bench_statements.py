"""Benchmark: a bank's account statement of 10,000 movements and a month's remittance advice of
10,000 payouts, on PostgreSQL.

    .venv/bin/python scripts/bench_statements.py [--roots 100] [--pieces 50] [--noise 200000]
        [--runs 5]

The rows are SYNTHETIC, bulk-loaded with COPY into a scratch database's mirror tables (dropped at
the end) the way the indexer writes them: for each of `--roots` receivables the bank holds
`--pieces` pieces; a first repayment (half the face) is distributed in one transaction (a
Transfer and a PiecePaid per piece, then Distributed), the rest is claimed piece by piece, one
transaction and one block each: 2 x roots x pieces payouts, each one cash movement of the bank.
Beside them, `--noise` events of other members (cash transfers and their payouts) so that the
tables are not the bank's alone. The blocks are real: anvil mines them, and the events carry
their hashes, so that the statement's times are read from the node as in production (cold: the
first build; warm: from the per-process cache).

Each report is built by the services the API calls (`backend.services.statements`), `--runs`
times, p50 and max printed beside a baseline measured in the same run: a plain SELECT of the same
rows (the bank's Transfer events through the party table; its piece_payment rows). Run once
without the indexes of `indexer/migrations/versions/0007_cash_movements.py` and once with them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlmodel import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backend.services.blocktimes import BlockClock, _cache
from backend.services.cash import CashLedger
from backend.services.statement_pdf import statement_pdf
from backend.services.statements import (
    Period,
    remittance_csv,
    remittances,
    statement,
    statement_csv,
)
from chain.connection import connect, start_anvil
from chain.settings import ChainSettings
from indexer.db import make_engine, upgrade

ADMIN_DSN = os.environ.get("SCF_BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
CHAIN_ID = 31_337
TOKEN = "0x" + "70" * 20
ESCROW = "0x" + "e5" * 20
ZERO = "0x" + "00" * 20
BANK = "0x" + "ba" * 20
DEBTOR = "0x" + "de" * 20
#: the indexes the statement and remittance queries use (0007_cash_movements)
INDEXES = {
    "ix_piece_payment_holder": "CREATE INDEX ix_piece_payment_holder ON piece_payment "
    "(chain_id, holder, block_number, log_index)",
}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@contextmanager
def scratch_database() -> Iterator[str]:
    name = f"scf_bench_statements_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def rpc(url: str, method: str, params: list[Any]) -> Any:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    return httpx.post(url, json=body, timeout=120).json()["result"]


def block_hashes(url: str, count: int) -> list[str]:
    """Mine `count` blocks on anvil (a second apart) and return the hashes of blocks 1..count."""
    rpc(url, "anvil_mine", [hex(count), hex(1)])
    out: list[str] = []
    for start in range(1, count + 1, 500):
        batch = [
            {"jsonrpc": "2.0", "id": n, "method": "eth_getBlockByNumber", "params": [hex(n), False]}
            for n in range(start, min(count, start + 499) + 1)
        ]
        answers = sorted(httpx.post(url, json=batch, timeout=120).json(), key=lambda a: a["id"])
        out += [a["result"]["hash"] for a in answers]
    return out


class Loader:
    """Rows for COPY, built in chain order (block by block)."""

    def __init__(self, hashes: list[str]) -> None:
        self.hashes = hashes
        self.events: list[tuple[Any, ...]] = []
        self.parties: list[tuple[Any, ...]] = []
        self.payments: list[tuple[Any, ...]] = []
        self.repayments: list[tuple[Any, ...]] = []
        self.distributions: list[tuple[Any, ...]] = []
        self.next_id = 1
        self.block = 0
        self.log_index = 0
        self.tx = 0

    def new_block(self) -> None:
        self.block += 1
        self.log_index = 0

    def new_tx(self) -> str:
        self.tx += 1
        return f"0x{self.tx:064x}"

    def event(self, tx: str, contract: str, name: str, args: dict[str, Any]) -> None:
        address = TOKEN if contract == "SettlementToken" else ESCROW
        eid = self.next_id
        self.next_id += 1
        self.events.append(
            (
                eid,
                CHAIN_ID,
                self.block,
                self.hashes[self.block - 1],
                tx,
                0,
                self.log_index,
                contract,
                address,
                name,
                json.dumps(args),
            )
        )
        for party in sorted(
            {
                v
                for v in args.values()
                if isinstance(v, str) and v.startswith("0x") and len(v) == 42 and v != ZERO
            }
        ):
            self.parties.append((CHAIN_ID, party, eid, self.block))
        self.log_index += 1

    def transfer(self, tx: str, src: str, dst: str, value: int) -> None:
        self.event(tx, "SettlementToken", "Transfer", {"from": src, "to": dst, "value": str(value)})

    def payout(self, tx: str, root: int, piece: int, holder: str, amount: int, paid: int) -> None:
        self.transfer(tx, ESCROW, holder, amount)
        args = {
            "pieceId": str(piece),
            "rootId": str(root),
            "holder": holder,
            "amount": str(amount),
            "paidOut": str(paid),
        }
        self.payments.append(
            (CHAIN_ID, self.block, self.log_index, tx, piece, root, holder, amount, paid)
        )
        self.event(tx, "Receivables", "PiecePaid", args)

    def repay(self, root: int, amount: int, total: int) -> None:
        self.new_block()
        tx = self.new_tx()
        self.transfer(tx, DEBTOR, ESCROW, amount)
        self.repayments.append(
            (CHAIN_ID, self.block, self.log_index, tx, root, DEBTOR, amount, total, 0)
        )
        self.event(
            tx,
            "Receivables",
            "Repaid",
            {
                "rootId": str(root),
                "debtor": DEBTOR,
                "amount": str(amount),
                "totalRepaid": str(total),
                "creditUsed": "0",
            },
        )


def synthesise(hashes: list[str], roots: int, pieces: int, noise: int) -> Loader:
    """The bank's payouts (see the module's docstring) and `noise` events of other members."""
    ld = Loader(hashes)
    amount = 1_000_000  # fen a piece
    face = amount * pieces
    others = [f"0x{0xA0 + i:02x}" + "11" * 19 for i in range(40)]
    ld.new_block()
    ld.transfer(ld.new_tx(), ZERO, BANK, 10**12)  # the bank's starting cash
    ld.transfer(ld.new_tx(), ZERO, DEBTOR, 10**14)
    noise_per_root = noise // max(roots, 1)
    for r in range(roots):
        root = 1 + r * (pieces + 1)
        ids = [root + 1 + k for k in range(pieces)]
        half = face // 2
        ld.repay(root, half, half)
        ld.new_block()
        tx = ld.new_tx()
        for p in ids:
            ld.payout(tx, root, p, BANK, amount // 2, amount // 2)
        ld.event(
            tx,
            "Receivables",
            "Distributed",
            {
                "rootId": str(root),
                "piecesVisited": str(pieces),
                "amount": str(half),
                "nextCursor": "0",
            },
        )
        ld.distributions.append((CHAIN_ID, ld.block, ld.log_index - 1, tx, root, pieces, half, 0))
        ld.repay(root, face - half, face)
        for p in ids:
            ld.new_block()
            ld.payout(ld.new_tx(), root, p, BANK, amount - amount // 2, amount)
        # other members' cash moving meanwhile, in the same blocks
        for i in range(noise_per_root):
            if i % 50 == 0:
                ld.new_block()
            a, b = others[i % 40], others[(i * 7 + 1) % 40]
            ld.transfer(ld.new_tx(), a, b, 1 + i)
    return ld


def load(pg: psycopg.Connection[Any], ld: Loader, roots: int, pieces: int) -> None:
    amount = 1_000_000
    with pg.cursor() as cur:
        copies: list[tuple[str, list[tuple[Any, ...]]]] = [
            (
                "ledger_event (id, chain_id, block_number, block_hash, tx_hash, tx_index, "
                "log_index, contract, address, event, args)",
                ld.events,
            ),
            ("ledger_event_party (chain_id, party, event_id, block_number)", ld.parties),
            (
                "piece_payment (chain_id, block_number, log_index, tx_hash, piece_id, root_id, "
                "holder, amount, paid_out)",
                ld.payments,
            ),
            (
                "repayment (chain_id, block_number, log_index, tx_hash, root_id, debtor, amount, "
                "total_repaid, credit_used)",
                ld.repayments,
            ),
            (
                "distribution (chain_id, block_number, log_index, tx_hash, root_id, "
                "pieces_visited, amount, next_cursor)",
                ld.distributions,
            ),
        ]
        roots_rows = []
        piece_rows = []
        for r in range(roots):
            root = 1 + r * (pieces + 1)
            roots_rows.append(
                (
                    CHAIN_ID,
                    root,
                    DEBTOR,
                    "0x" + "5c" * 20,
                    amount * pieces,
                    0,
                    "0x" + "cd" * 32,
                    f"0x{root:064x}",
                    6,
                    False,
                    root,
                    0,
                    0,
                    amount * pieces,
                    amount * pieces,
                    1,
                    ld.block,
                )
            )
            piece_rows.append(
                (
                    CHAIN_ID,
                    root,
                    root,
                    None,
                    0,
                    "0x" + "5c" * 20,
                    amount * pieces,
                    3,
                    False,
                    0,
                    0,
                    1,
                    ld.block,
                )
            )
            for k in range(pieces):
                piece_rows.append(
                    (
                        CHAIN_ID,
                        root + 1 + k,
                        root,
                        root,
                        1,
                        BANK,
                        amount,
                        2,
                        False,
                        amount,
                        0,
                        1,
                        ld.block,
                    )
                )
        copies.append(
            (
                "root (chain_id, root_id, debtor, supplier, face_value, due_date, "
                "invoice_hash, invoice_key, status, frozen, head, cursor, live_pieces, "
                "repaid, distributed, registered_block, updated_block)",
                roots_rows,
            )
        )
        copies.append(
            (
                "piece (chain_id, piece_id, root_id, parent_id, depth, holder, amount, "
                "status, frozen, paid_out, next_id, created_block, updated_block)",
                piece_rows,
            )
        )
        for table, rows in copies:
            with cur.copy(f"COPY {table} FROM STDIN") as cp:
                for row in rows:
                    cp.write_row(row)
        cur.execute(
            "INSERT INTO indexer_state (chain_id, genesis_hash, registry_address, token_address,"
            " receivables_address, start_block, cursor_block, final_block, updated_at) VALUES "
            "(%s, %s, %s, %s, %s, 0, %s, %s, now())",
            (CHAIN_ID, "0x" + "00" * 32, "0x" + "12" * 20, TOKEN, ESCROW, ld.block, ld.block),
        )
    pg.commit()
    for table in (
        "ledger_event",
        "ledger_event_party",
        "piece_payment",
        "repayment",
        "root",
        "piece",
        "distribution",
    ):
        pg.execute(f"ANALYZE {table}")
    pg.commit()


def profile(engine: Any, ledger: CashLedger, span: Period) -> None:
    import cProfile
    import pstats

    for name, fn in (("statement", statement), ("remittances", remittances)):
        with Session(engine) as mirror:
            fn(mirror=mirror, ledger=ledger, address=BANK, span=span, currency="CNY")  # warm
        prof = cProfile.Profile()
        with Session(engine) as mirror:
            prof.enable()
            fn(mirror=mirror, ledger=ledger, address=BANK, span=span, currency="CNY")
            prof.disable()
        print(f"== {name}")
        pstats.Stats(prof).sort_stats("cumulative").print_stats(25)


def timed(fn: Callable[[], Any], runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), max(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--roots", type=int, default=100)
    p.add_argument("--pieces", type=int, default=50)
    p.add_argument("--noise", type=int, default=200_000)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--profile", action="store_true", help="print where one build's time goes")
    p.add_argument("--explain", action="store_true", help="print the statement query's plan")
    args = p.parse_args()
    anvil = start_anvil(ChainSettings(profile="anvil"))
    try:
        blocks_needed = args.roots * (args.pieces + 3) + args.noise // 50 + args.roots + 2
        log(f"mining {blocks_needed} blocks on anvil")
        hashes = block_hashes(anvil.url, blocks_needed)
        conn = connect(ChainSettings(profile="rpc", rpc_url=anvil.url))
        ledger = CashLedger(CHAIN_ID, TOKEN, ESCROW, BlockClock(conn.w3, CHAIN_ID))
        ld = synthesise(hashes, args.roots, args.pieces, args.noise)
        log(f"{len(ld.events)} events, {len(ld.payments)} payouts in {ld.block} blocks")
        with scratch_database() as url:
            engine = make_engine(url)
            upgrade(engine)
            with psycopg.connect(url) as pg:
                for ix in INDEXES:
                    pg.execute(f"DROP INDEX IF EXISTS {ix}")
                pg.commit()
                load(pg, ld, args.roots, args.pieces)
                span = Period(0, ld.block)
                if args.profile:
                    profile(engine, ledger, span)
                    return
                if args.explain:
                    from sqlalchemy.dialects import postgresql

                    from backend.services.cash import ledger_rows_query

                    q = ledger_rows_query(ledger=ledger, address=BANK, to_block=span.to_block)
                    sql = str(
                        q.compile(
                            dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
                        )
                    )
                    for (line,) in pg.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql):
                        print(line)
                    return
                results: list[tuple[str, str, float, float]] = []
                for indexed in (False, True):
                    if indexed:
                        for sql in INDEXES.values():
                            pg.execute(sql)
                        pg.execute("ANALYZE piece_payment")
                        pg.commit()
                    label = "with 0007 indexes" if indexed else "without 0007 indexes"
                    results += run(engine, pg, ledger, span, args.runs, label, pdf=indexed)
            engine.dispose()
        conn.close()
    finally:
        anvil.stop()
    print(
        f"\n{args.roots * args.pieces * 2} payouts = cash movements of one bank; "
        f"{len(ld.events)} events in {ld.block} blocks; {args.runs} runs each\n"
    )
    print("| indexes | what | p50 ms | max ms |")
    print("|---|---|---:|---:|")
    for label, what, p50, worst in results:
        print(f"| {label} | {what} | {p50:.0f} | {worst:.0f} |")


def run(
    engine: Any,
    pg: psycopg.Connection[Any],
    ledger: CashLedger,
    span: Period,
    runs: int,
    label: str,
    *,
    pdf: bool,
) -> list[tuple[str, str, float, float]]:
    out = []

    def baseline_events() -> None:
        pg.execute(
            "SELECT e.block_number, e.log_index, e.block_hash, e.tx_hash, e.args "
            "FROM ledger_event e JOIN ledger_event_party p "
            "ON p.chain_id = e.chain_id AND p.event_id = e.id "
            "WHERE p.chain_id = %s AND p.party = %s AND e.contract = 'SettlementToken' "
            "AND e.event = 'Transfer' ORDER BY e.block_number, e.log_index",
            (CHAIN_ID, BANK),
        ).fetchall()

    def baseline_payments() -> None:
        pg.execute(
            "SELECT * FROM piece_payment WHERE chain_id = %s AND holder = %s "
            "AND block_number BETWEEN %s AND %s ORDER BY block_number, log_index",
            (CHAIN_ID, BANK, span.from_block, span.to_block),
        ).fetchall()

    def build(kind: str) -> Callable[[], Any]:
        def go() -> Any:
            with Session(engine) as mirror:
                if kind.startswith("statement"):
                    body = statement(
                        mirror=mirror, ledger=ledger, address=BANK, span=span, currency="CNY"
                    )
                    if kind == "statement csv":
                        return statement_csv(body)
                    if kind == "statement pdf":
                        return statement_pdf(body)
                    return json.dumps(body)
                body = remittances(
                    mirror=mirror, ledger=ledger, address=BANK, span=span, currency="CNY"
                )
                return remittance_csv(body) if kind == "remittance csv" else json.dumps(body)

        return go

    _cache.clear()
    t = time.perf_counter()
    body = build("statement json")()
    cold = (time.perf_counter() - t) * 1000
    moves = json.loads(body)["count"]
    log(f"[{label}] statement, cold clock cache: {cold:.0f} ms ({moves} movements)")
    out.append((label, f"statement JSON, cold block-time cache ({moves} movements)", cold, cold))
    for name, fn in (
        ("baseline: SELECT the bank's Transfer events", baseline_events),
        ("statement JSON", build("statement json")),
        ("statement CSV", build("statement csv")),
        ("baseline: SELECT the bank's piece_payment rows", baseline_payments),
        ("remittance advice JSON", build("remittance json")),
        ("remittance advice CSV", build("remittance csv")),
    ):
        p50, worst = timed(fn, runs)
        log(f"[{label}] {name}: p50 {p50:.0f} ms, max {worst:.0f} ms")
        out.append((label, name, p50, worst))
    if pdf:
        p50, worst = timed(build("statement pdf"), max(1, runs // 2))
        log(f"[{label}] statement PDF: p50 {p50:.0f} ms, max {worst:.0f} ms")
        out.append((label, "statement PDF", p50, worst))
    return out


if __name__ == "__main__":
    main()
