"""Benchmark: the auditors' SQL views (docs/audit-sql.md) on a large mirror in PostgreSQL.

    .venv/bin/python scripts/bench_audit_sql.py [--roots 10000] [--transfers 200000]
        [--samples 5]

A scratch database (dropped at the end) gets both migration sets, then SYNTHETIC rows made by
SQL (generate_series), not by a chain: members with directory entries, receivables each split
in three (one piece sold to a financier), their holdings, and settlement-cash Transfer events
with the party rows the indexer writes beside them (`ledger_event_party`).
A role from `scf audit grant-sql` then runs each example query of the page (p50 of
`--samples`) and a full read of each view.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backend import audit_sql
from backend.audit_sql.examples import bind, example_queries
from backend.audit_sql.roles import grant_reader
from backend.db import make_engine
from backend.db import upgrade as upgrade_backend
from indexer.db import upgrade as upgrade_mirror

ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
CHAIN = 1337
ESCROW = "0x" + "ee" * 20
PIECE = (
    "INSERT INTO piece (chain_id, piece_id, root_id, parent_id, depth, holder, amount, status,"
    " frozen, paid_out, next_id, created_block, updated_block)"
)
HOLDING = (
    "INSERT INTO holding (chain_id, piece_id, from_block, from_log_index, holder, amount,"
    " to_block, to_log_index)"
)


def fill(pg: psycopg.Connection[Any], roots: int, transfers: int) -> None:
    blocks = max(roots, 1000)
    pg.execute(
        "INSERT INTO indexer_state (chain_id, genesis_hash, registry_address, token_address,"
        " receivables_address, start_block, cursor_block, cursor_hash, final_block, updated_at)"
        " VALUES (%s, '0x00', '0x01', '0x02', %s, 0, %s, NULL, %s, now())",
        (CHAIN, ESCROW, blocks, blocks),
    )
    # 1-50 debtors, 51-450 suppliers, 451-470 financiers
    pg.execute(
        "INSERT INTO member (chain_id, address, roles, status, entity_id, credit_limit,"
        " credit_used, added_block, updated_block) SELECT %s, '0x' || lpad(to_hex(i), 40, '0'),"
        " CASE WHEN i <= 50 THEN 2 WHEN i <= 450 THEN 4 ELSE 8 END, 1, '0xab', 10^15, 0, 1, 1"
        " FROM generate_series(1, 470) i",
        (CHAIN,),
    )
    pg.execute(
        "INSERT INTO member_profile (address, legal_name, short_name, credit_code, contact_email,"
        " contact_phone, updated_at)"
        " SELECT address, 'Member ' || right(address, 4) || ' Co., Ltd.',"
        " 'M' || right(address, 4), 'USCC' || right(address, 8), NULL, NULL, now() FROM member"
    )
    pg.execute(
        "INSERT INTO root (chain_id, root_id, debtor, supplier, face_value, due_date, invoice_hash,"
        " invoice_key, status, frozen, head, cursor, live_pieces, repaid, distributed,"
        " registered_block, updated_block)"
        " SELECT %(c)s, r, '0x' || lpad(to_hex(1 + r %% 50), 40, '0'),"
        " '0x' || lpad(to_hex(51 + r %% 400), 40, '0'), 3000000,"
        " extract(epoch FROM now())::bigint + (r %% 400 - 200) * 86400, '0xcd', '0x' || r,"
        " (ARRAY[2, 2, 5, 6])[1 + r %% 4], false, r, 0, 3, (r %% 3) * 1000000, 0, r, r"
        " FROM generate_series(1, %(n)s) r",
        {"c": CHAIN, "n": roots},
    )
    # piece ids: the root's own r * 4, its children r * 4 + 1..3 (the last sold to a financier)
    pg.execute(
        PIECE + " SELECT %(c)s, r * 4, r, NULL, 0, supplier, 3000000, 3, false, 0, 0,"
        " r, r FROM root, LATERAL (SELECT root_id AS r) x",
        {"c": CHAIN},
    )
    pg.execute(
        PIECE + " SELECT %(c)s, r * 4 + k, r, r * 4, 1,"
        " CASE WHEN k = 3 THEN '0x' || lpad(to_hex(451 + r %% 20), 40, '0') ELSE supplier END,"
        " 1000000, 2, false, 0, 0, r + 1, r + 1"
        " FROM root, LATERAL (SELECT root_id AS r) x, generate_series(1, 3) k",
        {"c": CHAIN},
    )
    pg.execute(
        HOLDING + " SELECT %(c)s, r * 4, r, 0, supplier, 3000000, r + 1, 0"
        " FROM root, LATERAL (SELECT root_id AS r) x",
        {"c": CHAIN},
    )
    pg.execute(
        HOLDING + " SELECT p.chain_id, p.piece_id, p.created_block, k, r.supplier,"
        " p.amount, CASE WHEN p.holder <> r.supplier THEN p.created_block + 10 END, NULL"
        " FROM piece p JOIN root r USING (chain_id, root_id), LATERAL (SELECT 1 AS k) x"
        " WHERE p.depth = 1"
    )
    pg.execute(
        HOLDING + " SELECT p.chain_id, p.piece_id, p.created_block + 10, 0, p.holder,"
        " p.amount, NULL, NULL FROM piece p JOIN root r USING (chain_id, root_id)"
        " WHERE p.depth = 1 AND p.holder <> r.supplier"
    )
    pg.execute(
        "INSERT INTO ledger_event (chain_id, block_number, block_hash, tx_hash, tx_index,"
        " log_index, contract, address, event, args)"
        " SELECT %(c)s, 1 + i / 20, '0x' || md5(i::text), '0x' || md5('t' || i), i %% 20,"
        " i %% 20, 'SettlementToken', '0x03', 'Transfer', jsonb_build_object("
        " 'from', CASE WHEN i %% 10 = 0 THEN '0x' || repeat('0', 40)"
        "              ELSE '0x' || lpad(to_hex(1 + i %% 470), 40, '0') END,"
        " 'to', CASE WHEN i %% 7 = 0 THEN %(e)s ELSE '0x' || lpad(to_hex(1 + (i * 7) %% 470), 40,"
        " '0') END, 'value', (1000 + i %% 100000)::text)"
        " FROM generate_series(0, %(n)s - 1) i",
        {"c": CHAIN, "e": ESCROW, "n": transfers},
    )
    # what the indexer writes beside each event: a row per distinct non-zero address it names
    pg.execute(
        "INSERT INTO ledger_event_party (chain_id, party, event_id, block_number)"
        " SELECT DISTINCT e.chain_id, v.party, e.id, e.block_number FROM ledger_event e,"
        " LATERAL (VALUES (e.args ->> 'from'), (e.args ->> 'to')) v(party)"
        " WHERE v.party <> '0x' || repeat('0', 40)"
    )
    pg.commit()
    tables = ("member", "member_profile", "root", "piece", "holding", "ledger_event")
    for table in (*tables, "ledger_event_party"):
        pg.execute(f"ANALYZE {table}")
    pg.commit()


def timed(
    conn: psycopg.Connection[Any], query: str, params: Any, samples: int
) -> tuple[float, int]:
    times, rows = [], 0
    for _ in range(samples):
        start = time.perf_counter()
        rows = len(conn.execute(query, params).fetchall())
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--roots", type=int, default=10_000)
    parser.add_argument("--transfers", type=int, default=200_000)
    parser.add_argument("--samples", type=int, default=5)
    args = parser.parse_args()
    name = f"scf_bench_audit_{uuid.uuid4().hex[:8]}"
    role = f"bench_auditor_{uuid.uuid4().hex[:8]}"
    url = ADMIN.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        engine = make_engine(url)
        upgrade_mirror(engine)
        upgrade_backend(engine)
        with psycopg.connect(url) as pg:
            start = time.perf_counter()
            fill(pg, args.roots, args.transfers)
            print(
                f"SYNTHETIC mirror: {args.roots:,} receivables, {4 * args.roots:,} pieces,"
                f" {args.transfers:,} cash transfers ({time.perf_counter() - start:.1f} s to load)"
            )
        with engine.begin() as conn:
            grant_reader(conn, role=role, password=uuid.uuid4().hex)
        engine.dispose()
        values = {
            "piece_id": 4 * (args.roots // 2) + 3,
            "root_id": args.roots // 2,
            "block": args.roots // 2,
            "member": "0x" + "0" * 37 + "1c5",  # a financier
            "as_of": "2030-01-01T00:00:00+00:00",
        }
        with psycopg.connect(url, user=role, autocommit=True) as conn:
            print(f"{'example query (p50 of ' + str(args.samples) + ')':<72} {'ms':>9} {'rows':>8}")
            for heading, query in example_queries().items():
                ms, rows = timed(conn, *bind(query, **values), args.samples)
                print(f"{heading[:72]:<72} {ms:9.1f} {rows:8,}")
            print(f"{'whole view':<72} {'ms':>9} {'rows':>8}")
            for view in audit_sql.view_names():
                ms, rows = timed(conn, f"SELECT * FROM {view}", None, 1)
                print(f"{view:<72} {ms:9.1f} {rows:8,}")
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'DROP ROLE IF EXISTS "{role}"')


if __name__ == "__main__":
    main()
