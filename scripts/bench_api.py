"""Benchmark: the API on the local profile — writes end to end, and auditor reads at 1M events.

    .venv/bin/python scripts/bench_api.py [--clients 32] [--writes 2000] [--batch 50]
        [--api-workers 2] [--workers 1] [--worker-threads 4] [--naive 400] [--events 1000000]
        [--samples 100]

Everything runs for real, in the production topology: anvil (zero gas, automine or
--block-time), PostgreSQL (a scratch database, dropped at the end), Redis, the API under uvicorn
(several processes), `scf index` following the chain in its own process, and `scf worker`
processes (whose batch dispatcher signs and sends).

1. Writes: N HTTP clients each register invoices as their own custodial supplier (POST
   /v1/invoices, an Idempotency-Key each) until `--writes` are accepted; the figure is requests
   per second from the first POST until the last one is mined *and* in the mirror. Then as many
   again in batches (`--batch` invoices a POST to /v1/invoices/batch, each invoice its own
   transaction request). Each run reports the CPU every component spent (API, worker, indexer,
   anvil, this database's PostgreSQL backends, Redis, the load generator). Beside them, in the
   same run, the naive path: one thread calling `register(...).transact()` from an unlocked
   anvil account (a supplier member too) and waiting for each receipt. Last, the API alone:
   the workers stopped, one invoice a request again, accepted and left queued: the ceiling the
   API sets by itself on this machine.
2. Reads: ≥1M ledger events in PostgreSQL. They are SYNTHETIC: well-formed rows bulk-loaded with
   COPY into the mirror tables (events, roots, pieces, holdings, members), not generated on chain;
   then the auditor endpoints are timed over HTTP, one request at a time (p50/p95).

The bench bounds every loop (request counts and deadlines) and stops by itself.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
from eth_account import Account

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backend.security import sign_message
from backend.tools.client import invoice_body
from chain.connection import AnvilProcess, connect, start_anvil
from chain.deploy import Contracts, Deployment
from chain.settings import ChainSettings
from scripts.cpu import (
    group_cpu_seconds,
    named_cpu_seconds,
    postgres_cpu_seconds,
    process_cpu_seconds,
    reference_ms,
)

ADMIN_DSN = os.environ.get("SCF_BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("SCF_BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
ANVIL_ACCOUNT_0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"  # unlocked by anvil
BIN = Path(sys.executable).parent
DAY = 86_400


#: Outside the embedded profile the settings refuse development keys: a key of the bench's own.
OPERATOR = Account.create()


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- the stack ------------------------------------------------------------------------------------


@contextmanager
def scratch_database() -> Iterator[str]:
    name = f"scf_bench_api_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def deploy_and_migrate(rpc_url: str, database_url: str, record: Path) -> Deployment:
    """Deploy the contracts and create both schemas before any service starts: several API
    processes then attach to one deployment instead of each deploying its own."""
    from backend.db import make_engine
    from backend.db import upgrade as upgrade_backend
    from chain.consortium import entity_id
    from chain.deploy import deploy
    from indexer.db import upgrade as upgrade_mirror

    conn = connect(ChainSettings(profile="rpc", rpc_url=rpc_url, fee_mode="zero"))
    try:
        deployment = deploy(conn, operator=OPERATOR, operator_entity_id=entity_id("operator"))
    finally:
        conn.close()
    deployment.save(record)
    engine = make_engine(database_url)
    upgrade_backend(engine)
    upgrade_mirror(engine)
    engine.dispose()
    return deployment


class Stack:
    """The API (uvicorn, indexer in-process) and worker processes, stopped on exit."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.env = env
        self.workdir = workdir
        self.procs: list[subprocess.Popen[bytes]] = []
        self.roles: dict[int, str] = {}  # process group -> what it runs (api, worker, indexer)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def _spawn(self, name: str, cmd: list[str], extra: dict[str, str]) -> Path:
        path = self.workdir / f"{name}.log"
        with path.open("wb") as out:
            self.procs.append(
                subprocess.Popen(
                    cmd,
                    env={**os.environ, **self.env, **extra},
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        self.roles[self.procs[-1].pid] = name.split("-")[0]
        return path

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time so far of each service (all processes of its kind)."""
        out: dict[str, float] = {}
        for pgid, role in self.roles.items():
            out[role] = out.get(role, 0.0) + group_cpu_seconds(pgid)
        return out

    def start_indexer(self, rpc_url: str, deployment: Path, database_url: str) -> None:
        """`scf index` following the chain: its own process, as in production."""
        cmd = [str(BIN / "scf"), "index", "--profile", "rpc", "--rpc-url", rpc_url]
        cmd += ["--deployment", str(deployment), "--database-url", database_url, "--no-progress"]
        self._spawn("indexer", cmd, {})

    def start_api(self, workers: int) -> None:
        cmd = [
            str(BIN / "python"),
            "-m",
            "uvicorn",
            "backend.api.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--no-access-log",
        ]
        path = self._spawn("api", cmd, {"SCF_DEPLOY": "false", "SCF_RUN_INDEXER": "false"})
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.procs[-1].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("API did not start:\n" + path.read_text(errors="replace"))
            time.sleep(0.3)

    def start_worker(self, index: int, threads: int) -> None:
        cmd = [str(BIN / "scf"), "worker", "--concurrency", str(threads)]
        path = self._spawn(f"worker-{index}", cmd, {"SCF_DEPLOY": "false"})
        deadline = time.monotonic() + 90
        while b"ready." not in path.read_bytes():
            if self.procs[-1].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("worker did not start:\n" + path.read_text(errors="replace"))
            time.sleep(0.2)

    def stop_workers(self) -> None:
        """Stop the `scf worker` processes: what is accepted from now on stays queued."""
        for proc in self.procs:
            if self.roles[proc.pid] == "worker" and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=60)

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


# -- clients --------------------------------------------------------------------------------------


def invoice(seller: str, buyer: str, number: str, amount: int) -> dict[str, Any]:
    return invoice_body(seller, buyer, number, amount, days=120)


def login(client: httpx.Client, account: Any) -> dict[str, str]:
    ch = client.post("/v1/auth/challenge", json={"address": account.address}).json()
    body = {"challenge_id": ch["challenge_id"], "signature": sign_message(account, ch["message"])}
    token = client.post("/v1/auth/login", json=body).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def onboard(client: httpx.Client, op: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    r = client.post("/v1/operator/members?wait=true", json=body, headers=op, timeout=120)
    if r.status_code != 202 or r.json()["transaction"]["status"] != "mined":
        raise RuntimeError(f"onboarding failed: {r.status_code} {r.text}")
    result: dict[str, Any] = r.json()
    return result


def activate(client: httpx.Client, created: dict[str, Any]) -> str:
    """The API key a custodial member gets for its onboarding's one-time activation code."""
    r = client.post("/v1/auth/activate", json={"code": created["activation"]["code"]})
    if r.status_code != 201:
        raise RuntimeError(f"activation failed: {r.status_code} {r.text}")
    return str(r.json()["key"])


def wait_until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


def mirror_cursor(pg: psycopg.Connection[Any]) -> int:
    row = pg.execute("SELECT max(cursor_block) FROM indexer_state").fetchone()
    return -1 if row is None or row[0] is None else int(row[0])


# -- 1. writes ------------------------------------------------------------------------------------


def post_invoices(
    stack: Stack,
    suppliers: list[tuple[str, str]],
    core: str,
    total: int,
    deadline_s: float,
    batch: int = 0,
) -> tuple[list[str], list[str], int, float]:
    """`len(suppliers)` clients, each its own supplier, POST until `total` invoices are
    accepted: one per request, or with `batch` `batch` per request to /v1/invoices/batch.
    Returns the accepted requests' ids, the refusals, the POSTs made and the seconds taken."""
    per_client = -(-total // len(suppliers))
    per_post = max(batch, 1)
    posts = [0]
    accepted: list[str] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + deadline_s
    run = uuid.uuid4().hex[:6]

    def client_loop(i: int, address: str, key: str) -> None:
        # http.client with a kept-alive connection: the load generator shares the machine with
        # the system under test, and httpx costs it about 1 ms of CPU a request, this a fifth
        host, port = stack.url.removeprefix("http://").split(":")
        c = http.client.HTTPConnection(host, int(port), timeout=60)
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        try:
            for j in range(0, per_client, per_post):
                if time.monotonic() > stop_at:
                    return
                key = f"B{run}-{i}-{j}"
                items = [
                    invoice(address, core, f"{key}-{k}", 10_000 + j + k)
                    for k in range(min(per_post, per_client - j))
                ]
                path, body = (
                    ("/v1/invoices/batch", {"invoices": items})
                    if batch
                    else ("/v1/invoices", items[0])
                )
                c.request("POST", path, json.dumps(body), {**headers, "Idempotency-Key": key})
                r = c.getresponse()
                text = r.read()
                with lock:
                    posts[0] += 1
                    if r.status != 202:
                        errors.append(f"{r.status} {text[:200]!r}")
                        continue
                    out = json.loads(text)
                    for made in out["results"] if batch else [out]:
                        if made.get("error"):
                            errors.append(str(made["error"])[:200])
                        else:
                            accepted.append(made["transaction"]["id"])
        finally:
            c.close()

    threads = [
        threading.Thread(target=client_loop, args=(i, a, k)) for i, (a, k) in enumerate(suppliers)
    ]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=deadline_s + 60)
    return accepted, errors, posts[0], time.monotonic() - t0


def bench_writes(
    stack: Stack,
    pg: psycopg.Connection[Any],
    suppliers: list[tuple[str, str]],
    core: str,
    total: int,
    deadline_s: float,
    cpu: Any,
    batch: int = 0,
) -> dict[str, Any]:
    """`post_invoices`, then until every accepted invoice is mined and in the mirror.
    `cpu()` gives each component's CPU seconds so far: the run reports what each one spent."""
    cpu0 = cpu()
    t0 = time.monotonic()
    ids, errors, posts, t_accepted = post_invoices(stack, suppliers, core, total, deadline_s, batch)

    def done() -> bool:
        row = pg.execute(
            "SELECT count(*) FROM tx_request WHERE id = ANY(%s) AND status IN ('mined','failed')",
            (ids,),
        ).fetchone()
        return row is not None and int(row[0]) == len(ids)

    try:
        wait_until(done, deadline_s + 300, "the pipeline to finish")
    except RuntimeError:
        states = pg.execute(
            "SELECT status, claim_token IS NOT NULL, count(*) FROM tx_request "
            "WHERE id = ANY(%s) GROUP BY 1, 2",
            (ids,),
        ).fetchall()
        log(f"unfinished after the deadline: (status, claimed, count) {states}")
        raise
    t_mined = time.monotonic() - t0
    rows = pg.execute(
        "SELECT status, block_number, extract(epoch from updated_at - created_at) "
        "FROM tx_request WHERE id = ANY(%s)",
        (ids,),
    ).fetchall()
    last_block = max((int(r[1]) for r in rows if r[1] is not None), default=0)
    wait_until(lambda: mirror_cursor(pg) >= last_block, 300, "the mirror")
    t_visible = time.monotonic() - t0
    spent = {k: v - cpu0.get(k, 0.0) for k, v in cpu().items()}
    mined = sum(1 for r in rows if r[0] == "mined")
    lat = [float(r[2]) for r in rows if r[0] == "mined"]
    return {
        "posts": posts,
        "accepted": len(ids),
        "refused_http": len(errors),
        "mined": mined,
        "failed": sum(1 for r in rows if r[0] == "failed"),
        "accept_rps": len(ids) / t_accepted,
        "mined_rps": mined / t_mined,
        "visible_rps": mined / t_visible,
        "seconds": t_visible,
        "lat_p50": pct(lat, 0.5),
        "lat_p95": pct(lat, 0.95),
        "errors": errors[:3],
        "cpu_s": spent,
    }


def bench_api_alone(
    stack: Stack,
    suppliers: list[tuple[str, str]],
    core: str,
    total: int,
    deadline_s: float,
    cpu: Any,
) -> dict[str, Any]:
    """One invoice a request with no worker running: the API's own ceiling on this machine
    (accepted and queued; nothing is sent, so the chain and the worker take no CPU)."""
    stack.stop_workers()
    cpu0 = cpu()
    ids, errors, posts, seconds = post_invoices(stack, suppliers, core, total, deadline_s)
    spent = {k: v - cpu0.get(k, 0.0) for k, v in cpu().items()}
    return {
        "posts": posts,
        "accepted": len(ids),
        "refused_http": len(errors),
        "accept_rps": len(ids) / seconds,
        "seconds": seconds,
        "errors": errors[:3],
        "cpu_s": spent,
    }


def bench_naive(
    rpc_url: str,
    deployment: Deployment,
    core: str,
    count: int,
    deadline_s: float,
    pg: psycopg.Connection[Any],
) -> dict[str, Any]:
    """One thread, `register(...).transact()` from an unlocked account, a receipt each."""
    conn = connect(ChainSettings(profile="rpc", rpc_url=rpc_url, fee_mode="zero"))
    try:
        contracts = Contracts.bind(conn.w3, deployment, ChainSettings().build_dir)
        fn = contracts.receivables.functions
        due = int(time.time()) + 120 * DAY
        run = uuid.uuid4().hex[:6]
        t0 = time.monotonic()
        last_block = 0
        done = 0
        for k in range(count):
            if time.monotonic() - t0 > deadline_s:
                break
            key = "0x" + secrets.token_hex(32)
            h = fn.register(
                core,
                10_000 + k,
                due,
                bytes.fromhex(key[2:]),
                bytes.fromhex(uuid.uuid5(uuid.NAMESPACE_OID, run + str(k)).hex * 2),
            ).transact({"from": ANVIL_ACCOUNT_0, "gasPrice": 0})
            receipt = conn.w3.eth.wait_for_transaction_receipt(h, timeout=60, poll_latency=0.01)
            if receipt["status"] != 1:
                raise RuntimeError("naive register reverted")
            last_block = max(last_block, int(receipt["blockNumber"]))
            done += 1
        t_mined = time.monotonic() - t0
        wait_until(lambda: mirror_cursor(pg) >= last_block, 300, "the mirror")
        t_visible = time.monotonic() - t0
    finally:
        conn.close()
    return {"mined": done, "mined_rps": done / t_mined, "visible_rps": done / t_visible}


# -- 2. synthetic mirror at 1M events --------------------------------------------------------------

EVENTS = [  # (contract, event, weight)
    ("receivables", "ReceivableRegistered", 3),
    ("receivables", "ReceivableConfirmed", 3),
    ("receivables", "PieceSplit", 3),
    ("receivables", "TransferSingle", 8),
    ("receivables", "OfferPosted", 2),
    ("receivables", "OfferAccepted", 2),
    ("receivables", "Repaid", 2),
    ("receivables", "Distributed", 1),
    ("receivables", "PiecePaid", 5),
    ("token", "Transfer", 10),
    ("registry", "MemberAdded", 1),
]


def load_synthetic(
    pg: psycopg.Connection[Any], chain_id: int, deployment: Deployment, events: int, blocks: int
) -> dict[str, int]:
    """COPY well-formed SYNTHETIC rows into the mirror tables (ids far above the real ones)."""
    rnd = random.Random(7)
    addr = {
        "receivables": deployment.receivables.address.lower(),
        "token": deployment.token.address.lower(),
        "registry": deployment.registry.address.lower(),
    }
    debtors = [f"0x{rnd.getrandbits(160):040x}" for _ in range(50)]
    suppliers = [f"0x{rnd.getrandbits(160):040x}" for _ in range(400)]
    financiers = [f"0x{rnd.getrandbits(160):040x}" for _ in range(20)]
    parties = debtors + suppliers + financiers
    now = int(time.time())
    n_roots, per_root = max(events // 50, 10), 5
    base_root, base_piece = 10**9, 10**10
    with pg.cursor() as cur:
        with cur.copy(
            "COPY member (chain_id, address, roles, status, entity_id, credit_limit, "
            "credit_used, added_block, updated_block) FROM STDIN"
        ) as cp:
            for who, role in ((debtors, 2), (suppliers, 4), (financiers, 8)):
                for a in who:
                    cp.write_row((chain_id, a, role, 1, "0x" + "ab" * 32, 10**15, 0, 1, 1))
        with cur.copy(
            "COPY root (chain_id, root_id, debtor, supplier, face_value, due_date, "
            "invoice_hash, invoice_key, status, frozen, head, cursor, repaid, "
            "distributed, registered_block, updated_block) FROM STDIN"
        ) as cp:
            for r in range(n_roots):
                status = rnd.choice((2, 2, 2, 5, 6))  # confirmed, overdue, settled
                face = rnd.randint(10**6, 10**9)
                due = now + rnd.randint(-200, 200) * DAY
                repaid = face if status == 6 else rnd.choice((0, 0, face // 2))
                cp.write_row(
                    (
                        chain_id,
                        base_root + r,
                        rnd.choice(debtors),
                        rnd.choice(suppliers),
                        face,
                        due,
                        "0x" + "cd" * 32,
                        f"0x{r:064x}",
                        status,
                        False,
                        base_piece + r * per_root,
                        0,
                        repaid,
                        repaid if status == 6 else 0,
                        rnd.randint(1, blocks),
                        blocks,
                    )
                )
        with cur.copy(
            "COPY piece (chain_id, piece_id, root_id, parent_id, depth, holder, "
            "amount, status, frozen, paid_out, next_id, created_block, "
            "updated_block) FROM STDIN"
        ) as cp:
            for r in range(n_roots):
                for k in range(per_root):
                    holder = rnd.choice(financiers if k < 2 else suppliers)
                    cp.write_row(
                        (
                            chain_id,
                            base_piece + r * per_root + k,
                            base_root + r,
                            None,
                            0,
                            holder,
                            10**6,
                            2,
                            False,
                            0,
                            0,
                            1,
                            blocks,
                        )
                    )
        with cur.copy(
            "COPY holding (chain_id, piece_id, from_block, from_log_index, holder, "
            "amount, to_block) FROM STDIN"
        ) as cp:
            for r in range(n_roots):
                for k in range(per_root):
                    start = rnd.randint(1, blocks // 2)
                    first = rnd.choice(suppliers)
                    cp.write_row(
                        (
                            chain_id,
                            base_piece + r * per_root + k,
                            start,
                            0,
                            first,
                            10**6,
                            start + blocks // 4,
                        )
                    )
                    cp.write_row(
                        (
                            chain_id,
                            base_piece + r * per_root + k,
                            start + blocks // 4,
                            0,
                            rnd.choice(parties),
                            10**6,
                            None,
                        )
                    )
        names = [(c, e) for c, e, w in EVENTS for _ in range(w)]
        with cur.copy(
            "COPY ledger_event (chain_id, block_number, block_hash, tx_hash, tx_index, "
            "log_index, contract, address, event, args) FROM STDIN"
        ) as cp:
            per_block = max(events // blocks, 1)
            for i in range(events):
                block = 1 + i // per_block
                contract, event = rnd.choice(names)
                a, b = rnd.choice(parties), rnd.choice(parties)
                args = {
                    "from": a,
                    "to": b,
                    "rootId": str(base_root + rnd.randrange(n_roots)),
                    "amount": str(rnd.randint(1, 10**9)),
                    "synthetic": True,
                }
                cp.write_row(
                    (
                        chain_id,
                        block,
                        f"0x{block:064x}",
                        "0x" + secrets.token_hex(32),
                        i % per_block,
                        10**6 + i % per_block,
                        contract,
                        addr[contract],
                        event,
                        json.dumps(args),
                    )
                )
    pg.commit()
    for table in ("ledger_event", "root", "piece", "holding", "member"):
        pg.execute(f"ANALYZE {table}")
    pg.commit()
    return {
        "events": events,
        "roots": n_roots,
        "pieces": n_roots * per_root,
        "holdings": 2 * n_roots * per_root,
        "members": len(parties),
        "parties": parties,
        "blocks": blocks,
    }  # type: ignore[dict-item]


def read_queries(
    pg: psycopg.Connection[Any], synth: dict[str, Any], samples: int
) -> list[tuple[str, Any, int]]:
    rnd = random.Random(11)
    lo, hi = pg.execute("SELECT min(id), max(id) FROM ledger_event").fetchone() or (0, 0)
    blocks = int(synth["blocks"])
    parties = synth["parties"]
    few = max(samples // 20, 3)

    def mid(span: int) -> int:
        return rnd.randint(lo, max(lo, hi - span))

    def block_range() -> str:
        b = rnd.randint(1, blocks - 20)
        return f"/v1/audit/events?from_block={b}&to_block={b + 20}&limit=100"

    def at() -> int:
        return rnd.randint(blocks // 2, blocks)

    return [
        ("events, first page (100)", lambda: "/v1/audit/events?limit=100", samples),
        (
            "events, cursor mid-table",
            lambda: f"/v1/audit/events?limit=100&cursor={mid(1000)}",
            samples,
        ),
        (
            "events, event=PieceSplit + cursor",
            lambda: f"/v1/audit/events?event=PieceSplit&limit=100&cursor={mid(100_000)}",
            samples,
        ),
        (
            "events, contract=token + cursor",
            lambda: f"/v1/audit/events?contract=token&limit=100&cursor={mid(100_000)}",
            samples,
        ),
        ("events, 20-block range", block_range, samples),
        (
            "events, party=<address>",
            lambda: f"/v1/audit/events?party={rnd.choice(parties)}&limit=100",
            max(samples // 5, 5),
        ),
        (
            "holdings as of block, one holder",
            lambda: f"/v1/audit/holdings?block={at()}&holder={rnd.choice(parties)}",
            samples,
        ),
        (
            "holdings as of block, page of 100",
            lambda: (
                f"/v1/audit/holdings?block={at()}&limit=100&cursor={10**10 + rnd.randint(0, 10**5)}"
            ),
            samples,
        ),
        ("holdings as of block, all rows", lambda: f"/v1/audit/holdings?block={at()}", few),
        ("exposure (aggregate over all pieces)", lambda: "/v1/audit/exposure", few),
        ("aging (every outstanding receivable)", lambda: "/v1/audit/aging", few),
    ]


def mine_empty_blocks(rpc_url: str, count: int) -> int:
    """Mine `count` empty blocks on anvil; returns the new head."""
    rpc = {"jsonrpc": "2.0", "id": 1}
    httpx.post(rpc_url, json={**rpc, "method": "anvil_mine", "params": [hex(count)]}, timeout=60)
    answer = httpx.post(rpc_url, json={**rpc, "method": "eth_blockNumber", "params": []}).json()
    return int(answer["result"], 16)


def bench_reads(
    stack: Stack, auditor: dict[str, str], queries: list[tuple[str, Any, int]]
) -> list[tuple[str, float, float, int]]:
    out = []
    with httpx.Client(base_url=stack.url, timeout=300, headers=auditor) as c:
        for name, url, n in queries:
            c.get(url())  # warm
            times: list[float] = []
            budget = time.monotonic() + 60
            for _ in range(n):
                if time.monotonic() > budget:
                    break
                t = time.perf_counter()
                r = c.get(url())
                times.append((time.perf_counter() - t) * 1000)
                if r.status_code != 200:
                    raise RuntimeError(f"{name}: {r.status_code} {r.text[:300]}")
            out.append((name, statistics.median(times), pct(times, 0.95), len(times)))
            log(f"  {name}: p50 {out[-1][1]:.1f} ms  p95 {out[-1][2]:.1f} ms  (n={len(times)})")
    return out


# -- main -----------------------------------------------------------------------------------------


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--writes", type=int, default=2000)
    p.add_argument("--api-workers", type=int, default=2, help="uvicorn processes")
    p.add_argument("--workers", type=int, default=1, help="`scf worker` processes")
    p.add_argument("--worker-threads", type=int, default=4)
    p.add_argument(
        "--batch", type=int, default=50, help="invoices a request in the batch run (0: none)"
    )
    p.add_argument("--naive", type=int, default=400)
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--samples", type=int, default=100)
    p.add_argument(
        "--block-time",
        type=float,
        default=1.0,
        help="seconds between blocks, as a QBFT network (0: anvil's automine, which leaves what "
        "does not fit in the block it mines on arrival pending until the next transaction)",
    )
    p.add_argument("--gas-limit", type=int, default=300_000_000, help="block gas limit")
    p.add_argument("--deadline", type=float, default=300.0, help="seconds per write phase")
    args = p.parse_args()
    reference = reference_ms()  # before anything else runs

    workdir = Path(f"/tmp/scf-bench-api-{uuid.uuid4().hex[:6]}")
    workdir.mkdir()
    anvil_settings = ChainSettings(
        profile="anvil", anvil_block_time=args.block_time or None, anvil_gas_limit=args.gas_limit
    )
    anvil: AnvilProcess = start_anvil(anvil_settings)
    stack: Stack | None = None
    try:
        with scratch_database() as db:
            env = {
                "SCF_PROFILE": "local",
                "SCF_DATABASE_URL": db,
                "SCF_MIRROR_DATABASE_URL": db,
                "SCF_MASTER_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
                "SCF_OPERATOR_KEY": OPERATOR.key.hex(),
                "SCF_KEEPER_KEY": Account.create().key.hex(),
                # the bench measures throughput, not the abuse limits (one client address)
                "SCF_RATE_LIMIT_WRITES_PER_CLIENT": "10000000/minute",
                "SCF_RATE_LIMIT_WRITES_PER_MEMBER": "10000000/minute",
                "SCF_RATE_LIMIT_AUTH_PER_CLIENT": "100000/minute",
                "SCF_BROKER_URL": REDIS_URL,
                "SCF_DEPLOYMENT_PATH": str(workdir / "deployment.json"),
                "SCF_CHAIN_PROFILE": "rpc",
                "SCF_CHAIN_RPC_URL": anvil.url,
                "SCF_CHAIN_FEE_MODE": "zero",
                "SCF_WAIT_TIMEOUT_SECONDS": "120",
            }
            import redis

            redis.Redis.from_url(REDIS_URL).flushdb()
            stack = Stack(env, workdir)
            log(f"anvil {anvil.url}, database {db.rsplit('/', 1)[1]}, logs in {workdir}")
            deployment = deploy_and_migrate(anvil.url, db, workdir / "deployment.json")
            pg = psycopg.connect(db, autocommit=True)
            stack.start_indexer(anvil.url, workdir / "deployment.json", db)
            wait_until(
                lambda: mirror_cursor(pg) >= deployment.start_block, 60, "the indexer to attach"
            )
            stack.start_api(args.api_workers)
            for w in range(args.workers):
                stack.start_worker(w, args.worker_threads)
            log(
                f"API on {stack.url} ({args.api_workers} processes), indexer process, "
                f"{args.workers} worker(s) x {args.worker_threads} threads"
            )

            client = httpx.Client(base_url=stack.url, timeout=120)
            op = login(client, OPERATOR)
            core = onboard(
                client,
                op,
                {"legal_id": "B-core", "roles": ["CORE_ENTERPRISE"], "credit_limit": 10**15},
            )["address"]
            auditor = onboard(client, op, {"legal_id": "B-aud", "roles": ["AUDITOR"]})
            onboard(
                client,
                op,
                {"legal_id": "B-naive", "roles": ["SUPPLIER"], "address": ANVIL_ACCOUNT_0},
            )
            suppliers = []
            for i in range(args.clients):
                s = onboard(client, op, {"legal_id": f"B-sup-{i}", "roles": ["SUPPLIER"]})
                suppliers.append((s["address"], activate(client, s)))
            log(f"onboarded core, auditor, {args.clients} custodial suppliers, 1 naive supplier")

            log(f"writes: {args.writes} through the API by {args.clients} clients ...")
            database = db.rsplit("/", 1)[1]

            def cpu() -> dict[str, float]:
                return {
                    **stack.cpu_seconds(),
                    "anvil": process_cpu_seconds(anvil.proc.pid),
                    "postgres": postgres_cpu_seconds(database),
                    "redis": named_cpu_seconds(b"redis-server"),
                    "bench clients": process_cpu_seconds(os.getpid()),
                }

            runs: list[tuple[str, dict[str, Any]]] = []
            w = bench_writes(stack, pg, suppliers, core, args.writes, args.deadline, cpu)
            log(f"  {w}")
            runs.append((f"API + pipeline, {args.clients} HTTP clients, 1 invoice a request", w))
            if args.batch:
                log(f"writes: {args.writes} more in batches of {args.batch} (/v1/invoices/batch)")
                wb = bench_writes(
                    stack, pg, suppliers, core, args.writes, args.deadline, cpu, args.batch
                )
                log(f"  {wb}")
                runs.append(
                    (
                        f"API + pipeline, {args.clients} HTTP clients, batches of {args.batch} "
                        f"({wb['posts']} requests)",
                        wb,
                    )
                )
            log(f"naive: {args.naive} transact() + receipt, one thread ...")
            n = bench_naive(anvil.url, deployment, core, args.naive, args.deadline, pg)
            log(f"  {n}")
            log(f"API alone: {args.writes} invoices with the workers stopped ...")
            alone = bench_api_alone(stack, suppliers, core, args.writes, args.deadline, cpu)
            log(f"  {alone}")

            # the synthetic events sit in blocks the chain has: an auditor's as-of-block read
            # beyond the head is refused (BlockBeyondHead)
            head = mine_empty_blocks(anvil.url, 1000)
            deadline = time.monotonic() + 120
            while mirror_cursor(pg) < head and time.monotonic() < deadline:
                time.sleep(0.5)
            blocks = max(mirror_cursor(pg), 1000)
            log(f"loading {args.events:,} SYNTHETIC events (COPY) over {blocks} blocks ...")
            t = time.monotonic()
            synth = load_synthetic(pg, deployment.chain_id, deployment, args.events, blocks)
            log(f"  loaded in {time.monotonic() - t:.0f} s")
            total_events = pg.execute("SELECT count(*) FROM ledger_event").fetchone()
            aud = {"Authorization": f"Bearer {activate(client, auditor)}"}
            log("reads (auditor, over HTTP, one at a time) ...")
            reads = bench_reads(stack, aud, read_queries(pg, synth, args.samples))
            pg.close()
            client.close()

            print()
            print(
                f"scf-ledger API bench — {os.cpu_count()} CPUs, anvil "
                f"{'automine' if not args.block_time else f'{args.block_time}s blocks'}, "
                f"{args.gas_limit:,} gas a block, "
                f"zero gas, PostgreSQL, Redis, {args.workers}x{args.worker_threads} "
                f"worker threads; reference workload {reference:.0f} ms a core (scripts/cpu.py: "
                "lower is faster; compare figures only between runs with a like figure)"
            )
            print()
            print(
                "| writes (register invoice) | invoices | mined | failed | /s accepted "
                "| /s mined | /s mined+in mirror | accept→mined p50 / p95 |"
            )
            print("|---|---:|---:|---:|---:|---:|---:|---:|")
            for name, w in runs:
                print(
                    f"| {name} | {w['accepted']} | {w['mined']} | {w['failed']} "
                    f"| {w['accept_rps']:.0f} | {w['mined_rps']:.0f} | {w['visible_rps']:.0f} "
                    f"| {w['lat_p50']:.2f} s / {w['lat_p95']:.2f} s |"
                )
            print(
                f"| naive transact()+receipt, 1 thread | {n['mined']} | {n['mined']} | 0 | - "
                f"| {n['mined_rps']:.0f} | {n['visible_rps']:.0f} | - |"
            )
            alone_name = (
                f"API alone (no worker running: accepted and queued only), {args.clients} HTTP "
                "clients, 1 invoice a request"
            )
            print(
                f"| {alone_name} | {alone['accepted']} | - | - "
                f"| {alone['accept_rps']:.0f} | - | - | - |"
            )
            print()
            for name, w in [*runs, (alone_name, alone)]:
                wall = w["seconds"]
                what = "mined" if "mined" in w else "accepted"  # the API alone mines nothing
                count = max(w[what], 1)
                print(f"CPU spent during the run '{name}' ({wall:.1f} s, {w[what]} {what}):")
                print()
                print("| component | CPU s | cores busy | CPU ms per invoice |")
                print("|---|---:|---:|---:|")
                for part, secs in sorted(w["cpu_s"].items(), key=lambda kv: -kv[1]):
                    print(
                        f"| {part} | {secs:.1f} | {secs / wall:.2f} | {1000 * secs / count:.2f} |"
                    )
                total_cpu = sum(w["cpu_s"].values())
                print(
                    f"| all | {total_cpu:.1f} | {total_cpu / wall:.2f} "
                    f"| {1000 * total_cpu / count:.2f} |"
                )
                print()
            ev = total_events[0] if total_events else 0
            print(
                f"| auditor read ({ev:,} events in PostgreSQL, {args.events:,} of them "
                f"SYNTHETIC via COPY; {synth['roots']:,} roots, {synth['pieces']:,} pieces, "
                f"{synth['holdings']:,} holdings synthetic) | p50 ms | p95 ms | n |"
            )
            print("|---|---:|---:|---:|")
            for name, p50, p95, count in reads:
                print(f"| {name} | {p50:.1f} | {p95:.1f} | {count} |")
    finally:
        if stack is not None:
            stack.stop()
        anvil.stop()


if __name__ == "__main__":
    main()
