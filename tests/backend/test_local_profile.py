"""The local profile: PostgreSQL + Redis, writes executed by real Celery worker processes, on a
chain configured like a Besu QBFT network (anvil with zero base fee and gas price and a block
every second, behind a proxy that adds QBFT extraData, so the POA middleware is needed, and caps
eth_getLogs ranges as `--rpc-max-logs-range` does): the story, and a worker killed with
transactions in flight."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from eth_account import Account
from sqlalchemy import text, update
from sqlmodel import Session, col, select

from backend.models import TxRequest, TxStatus
from backend.settings import BackendSettings
from backend.txn.actions import build_call, new_request
from backend.txn.executor import claim, execute
from chain.connection import AnvilProcess, dev_account, start_anvil
from chain.settings import ChainSettings
from tests.backend.conftest import Api, invoice, make_api
from tests.backend.test_story import run_story
from tests.e2e.besu_proxy import BesuLikeProxy

PG_ADMIN_DSN = os.environ.get("SCF_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
# One Redis database per pytest-xdist worker: each worker's module fixtures start their own
# Celery workers, which must not take each other's tasks.
_XDIST_INDEX = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
REDIS_URL = os.environ.get("SCF_TEST_REDIS_URL", f"redis://127.0.0.1:6379/{7 + _XDIST_INDEX}")

pytestmark = [pytest.mark.anvil, pytest.mark.slow]
MAX_LOGS_RANGE = 50


@pytest.fixture(scope="module")
def anvil() -> Iterator[AnvilProcess]:
    proc = start_anvil(ChainSettings(profile="anvil", anvil_zero_gas=True, anvil_block_time=1))
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def besu(anvil: AnvilProcess) -> Iterator[BesuLikeProxy]:
    proxy = BesuLikeProxy(anvil.url, max_logs_range=MAX_LOGS_RANGE).start()
    yield proxy
    proxy.stop()


#: Outside the embedded profile the settings refuse development keys: a key of its own.
OPERATOR = Account.create()


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    name = f"scf_api_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield PG_ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def local_env(
    besu: BesuLikeProxy, database: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    redis.Redis.from_url(REDIS_URL).flushdb()
    deployment = tmp_path_factory.mktemp("local") / "deployment.json"
    return {
        "SCF_PROFILE": "local",
        "SCF_MASTER_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "SCF_OPERATOR_KEY": OPERATOR.key.hex(),
        "SCF_KEEPER_KEY": Account.create().key.hex(),
        "SCF_DATABASE_URL": database,
        "SCF_MIRROR_DATABASE_URL": database,
        "SCF_BROKER_URL": REDIS_URL,
        "SCF_DEPLOYMENT_PATH": str(deployment),
        "SCF_CHAIN_PROFILE": "rpc",
        "SCF_CHAIN_RPC_URL": besu.url,
        "SCF_CHAIN_POA_MIDDLEWARE": "true",
        "SCF_CHAIN_FEE_MODE": "zero",
        # a killed worker's requests are taken up again within seconds, not minutes
        "SCF_BROKER_VISIBILITY_TIMEOUT_SECONDS": "10",
        "SCF_STUCK_AFTER_SECONDS": "8",
    }


class Workers:
    """Real `scf worker` processes (each in its own process group, so a kill takes it whole)."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(
        self, concurrency: int = 8, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        log_path = self.log_dir / f"worker-{len(self.procs)}.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [
                    str(Path(sys.executable).with_name("scf")),
                    "worker",
                    "--concurrency",
                    str(concurrency),
                ],
                env={**os.environ, **(env or {})},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs.append(proc)
        deadline = time.monotonic() + 90
        while b"ready." not in log_path.read_bytes():
            assert proc.poll() is None, log_path.read_text(errors="replace")
            assert time.monotonic() < deadline, log_path.read_text(errors="replace")
            time.sleep(0.2)
        return proc

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGKILL, no warning: what a machine losing power does to a worker."""
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=20)

    def freeze(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGSTOP: the worker keeps whatever the broker has handed it and starts nothing."""
        os.killpg(proc.pid, signal.SIGSTOP)

    def thaw(self, proc: subprocess.Popen[bytes]) -> None:
        os.killpg(proc.pid, signal.SIGCONT)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


@pytest.fixture(scope="module")
def workers(local_env: dict[str, str]) -> Iterator[Workers]:
    pool = Workers(Path(local_env["SCF_DEPLOYMENT_PATH"]).parent)
    yield pool
    pool.stop_all()


@pytest.fixture(scope="module")
def local_api(local_env: dict[str, str], anvil: AnvilProcess, workers: Workers) -> Iterator[Api]:
    saved = {k: os.environ.get(k) for k in local_env}
    os.environ.update(local_env)
    try:
        settings = BackendSettings(deploy=True, run_indexer=True, wait_timeout_seconds=60)
        gen = make_api(settings, ChainSettings(), operator=OPERATOR)
        # the worker must start once the deployment record exists: make_api deploys first
        # and only then onboards, so start it from the runtime's lifespan hook below.
        from backend import runtime as runtime_module

        original = runtime_module.build_runtime

        def build_and_start_worker(*args: object, **kw: object) -> runtime_module.Runtime:
            rt = original(*args, **kw)  # type: ignore[arg-type]
            workers.start()
            return rt

        import backend.api.app as app_module

        app_module.build_runtime = build_and_start_worker  # type: ignore[assignment]
        try:
            api = next(gen)
        finally:
            app_module.build_runtime = original
        yield api
        gen.close()
    finally:
        workers.stop_all()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_story_on_the_local_profile_with_a_celery_worker(local_api: Api) -> None:
    assert local_api.rt.settings.eager is False
    rt = local_api.rt

    def advance(seconds: int) -> None:
        rt.conn.rpc("evm_increaseTime", [seconds])
        rt.conn.rpc("evm_mine")

    run_story(local_api, advance)


def test_worker_killed_mid_task_every_request_mined_exactly_once(
    local_api: Api, workers: Workers
) -> None:
    rt = local_api.rt
    w3 = rt.conn.w3
    op = local_api.as_("operator")
    bank = local_api.addresses["bank"]
    operator = local_api.addresses["operator"]
    token = rt.contracts.token
    amounts = [1_000 + i for i in range(20)]  # distinct: each mint is recognisable on chain
    nonce_before = w3.eth.get_transaction_count(operator)
    balance_before = token.functions.balanceOf(bank).call()
    first_block = w3.eth.block_number + 1
    # blocks come every second: transactions stay in flight for a while
    ids = []
    for i, amount in enumerate(amounts):
        r = op.post(
            "/v1/operator/cash/mint",
            json={"account": bank, "amount": amount},
            headers={"Idempotency-Key": f"kill-{i}"},
        )
        assert r.status_code == 202, r.text
        ids.append(r.json()["id"])
    deadline = time.monotonic() + 60
    while _count_status(local_api, ids, ("signed", "sent", "mined")) < 3:
        assert time.monotonic() < deadline, "the worker sent nothing"
        time.sleep(0.05)
    workers.kill(workers.procs[-1])
    at_kill = _statuses(local_api, ids)
    assert any(s in ("queued", "signed", "sent") for s in at_kill.values()), at_kill

    workers.start()
    deadline = time.monotonic() + 180
    while _count_status(local_api, ids, ("mined", "failed")) < len(ids):
        assert time.monotonic() < deadline, _statuses(local_api, ids)
        time.sleep(0.5)

    final = {i: op.get(f"/v1/transactions/{i}").json() for i in ids}
    assert {t["status"] for t in final.values()} == {"mined"}, at_kill
    hashes = [t["tx_hash"] for t in final.values()]
    assert len(set(hashes)) == len(ids)
    for h in hashes:
        receipt = w3.eth.get_transaction_receipt(h)
        assert receipt["status"] == 1 and receipt["from"] == operator
    # on chain: exactly one transaction per request from the operator, one mint per amount
    assert w3.eth.get_transaction_count(operator) == nonce_before + len(ids)
    # the proxy caps eth_getLogs ranges as Besu does: read the blocks since then in windows
    mints = []
    last_block = w3.eth.block_number
    for start in range(first_block, last_block + 1, MAX_LOGS_RANGE):
        mints += token.events.Transfer().get_logs(
            from_block=start,
            to_block=min(start + MAX_LOGS_RANGE - 1, last_block),
            argument_filters={"from": "0x" + "00" * 20, "to": bank},
        )
    assert sorted(int(e["args"]["value"]) for e in mints) == amounts
    assert token.functions.balanceOf(bank).call() == balance_before + sum(amounts)


def test_a_nonce_gap_left_by_a_dead_dispatcher_is_closed_on_recovery(local_api: Api) -> None:
    """A dispatcher signed and stored two of a signer's transactions, broadcast only the later
    one and died. The node holds that one above the gap, unmined, for good: recovering it must
    re-broadcast the earlier stored bytes first, without signing anything anew."""
    rt = local_api.rt
    w3 = rt.conn.w3
    bank, operator = local_api.addresses["bank"], local_api.addresses["operator"]
    balance_before = rt.contracts.token.functions.balanceOf(bank).call()
    account = rt.account_for(operator)
    nonce = w3.eth.get_transaction_count(operator, "pending")
    staged = []
    for k, amount in enumerate((31, 37)):
        req = new_request(
            member=operator,
            signer=operator,
            action="cash.mint",
            params={"account": bank, "amount": amount},
            idempotency_key=None,
        )
        with Session(rt.engine, expire_on_commit=False) as s:
            s.add(req)
            s.commit()
        assert claim(rt, req.id, "dead-dispatcher")
        tx = rt.sender.prepare(build_call(rt, req.action, req.params), account=account)
        tx["nonce"] = nonce + k
        signed = account.sign_transaction(tx)
        with rt.engine.begin() as conn:
            conn.execute(
                update(TxRequest)
                .where(col(TxRequest.id) == req.id)
                .values(
                    status=TxStatus.SIGNED,
                    raw_tx=signed.raw_transaction.to_0x_hex(),
                    tx_hash=signed.hash.to_0x_hex(),
                    nonce=nonce + k,
                    # the dead dispatcher's lease, lapsed only once the hold is seen: a live
                    # worker would otherwise rescue the earlier one meanwhile
                    locked_until=datetime.now(UTC) + timedelta(minutes=5),
                )
            )
        staged.append((req.id, signed))
    (first_id, first), (second_id, second) = staged
    rt.sender.rebroadcast(bytes(second.raw_transaction))  # the dispatcher died after this one
    mined_at = w3.eth.block_number
    while w3.eth.block_number < mined_at + 2:  # blocks come every second
        time.sleep(0.2)
    assert rt.sender.receipt(second.hash.to_0x_hex()) is None  # held above the gap
    with rt.engine.begin() as conn:
        conn.execute(
            update(TxRequest)
            .where(col(TxRequest.id).in_([first_id, second_id]))
            .values(locked_until=datetime.now(UTC) - timedelta(seconds=1))  # the lease lapsed
        )

    # recovered here, or by the workers' own recovery sweep that may claim it first: either
    # way the stored bytes are what is sent, and both end mined
    execute(rt, second_id)
    execute(rt, first_id)  # its bytes were mined with the second's rescue: just recorded
    deadline = time.monotonic() + 60
    while True:
        with Session(rt.engine) as s:
            done = {
                r.id: r
                for r in s.exec(
                    select(TxRequest).where(col(TxRequest.id).in_([first_id, second_id]))
                )
            }
        if all(r.status == TxStatus.MINED for r in done.values()):
            break
        assert time.monotonic() < deadline, {k: r.status for k, r in done.items()}
        time.sleep(0.2)
    assert done[first_id].tx_hash == first.hash.to_0x_hex()  # the stored bytes, not new ones
    assert done[second_id].tx_hash == second.hash.to_0x_hex()
    assert w3.eth.get_transaction_count(operator) == nonce + 2
    assert rt.contracts.token.functions.balanceOf(bank).call() == balance_before + 31 + 37


def test_member_holding_its_own_key_signs_and_a_worker_sends(local_api: Api) -> None:
    rt = local_api.rt
    own = dev_account(8)
    a = local_api.addresses
    r = local_api.as_("operator").post(
        "/v1/operator/members?wait=true",
        json={"legal_id": "USCC-own-local", "roles": ["SUPPLIER"], "address": own.address},
    )
    assert r.status_code == 202 and r.json()["custodial"] is False, r.text
    headers = {"Authorization": f"Bearer {local_api.login(own)}"}
    body = invoice(own.address, a["core"], "LOCAL-OWN-1", 900, days=3000)  # the story moved time on
    made = local_api.client.post("/v1/invoices", json=body, headers=headers)
    assert made.status_code == 202, made.text
    tx = made.json()["transaction"]
    assert tx["status"] == "awaiting_signature" and tx["unsigned_tx"]["gasPrice"] == 0
    raw = own.sign_transaction(tx["unsigned_tx"]).raw_transaction.to_0x_hex()
    done = local_api.client.post(
        f"/v1/transactions/{tx['id']}/signature?wait=true",
        json={"raw_transaction": raw},
        headers=headers,
    )
    assert done.status_code == 202, done.text
    assert done.json()["status"] == "mined" and done.json()["visible_in_mirror"] is True
    assert rt.conn.w3.eth.get_transaction_receipt(done.json()["tx_hash"])["from"] == own.address


#: Workers as in production: a dead worker's message comes back after a minute, a claim lapses
#: after a minute. Nothing below may wait that long.
PRODUCTION_LEASES = {
    "SCF_BROKER_VISIBILITY_TIMEOUT_SECONDS": "60",
    "SCF_STUCK_AFTER_SECONDS": "60",
}


def _mint(api: Api, amount: int) -> str:
    r = api.as_("operator").post(
        "/v1/operator/cash/mint",
        json={"account": api.addresses["bank"], "amount": amount},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


def _mined_within(api: Api, ids: list[str], seconds: float) -> float:
    start = time.monotonic()
    while _count_status(api, ids, ("mined", "failed")) < len(ids):
        assert time.monotonic() - start < seconds, _statuses(api, ids)
        time.sleep(0.2)
    assert set(_statuses(api, ids).values()) == {"mined"}
    return time.monotonic() - start


def test_a_worker_killed_holding_the_dispatch_message_holds_nothing_back(
    local_api: Api, workers: Workers, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker took the dispatcher's message (the broker handed it over) and died before
    starting it: the dispatch flag is still set and the message gone for a minute. A worker
    that starts dispatches what is queued, and requests after it are not held back."""
    from backend.txn import queue

    # the API as in production too: before the fix, its flag lived as long as the message
    monkeypatch.setitem(
        queue.celery_app.conf, "broker_transport_options", {"visibility_timeout": 60}
    )
    broker = redis.Redis.from_url(REDIS_URL)
    workers.stop_all()
    doomed = workers.start(env=PRODUCTION_LEASES)
    held: list[str] = []
    for _ in range(10):  # until the frozen worker's pending read has taken the message
        time.sleep(0.5)  # its read of the queue is renewed every second
        workers.freeze(doomed)
        broker.delete(queue.WANTED_KEY)  # a message of its own for the request below
        held.append(_mint(local_api, 5_000 + len(held)))
        time.sleep(0.3)
        if broker.llen("celery") == 0 and broker.exists(queue.WANTED_KEY):
            break
        workers.thaw(doomed)  # it had no read pending: it runs that one; try again
        _mined_within(local_api, held, 30)
    else:
        pytest.fail("the worker never took the message")
    workers.kill(doomed)
    assert _statuses(local_api, held[-1:]) == {held[-1]: "queued"}

    workers.start(env=PRODUCTION_LEASES)
    _mined_within(local_api, held, 10)  # the new worker's pass took it, not the lost message
    later = [_mint(local_api, 6_000 + k) for k in range(3)]
    _mined_within(local_api, later, 8)  # a few block times, not the flag's minute


def test_a_dispatcher_killed_with_requests_sent_is_taken_over_at_once(
    local_api: Api, workers: Workers
) -> None:
    """The dispatcher died with requests sent under its claims; the chain mines them anyway.
    The next dispatcher sees the dead one's claims (its lock was free) and records them mined
    within seconds, not when the minute's lease lapses."""
    workers.stop_all()
    doomed = workers.start(env=PRODUCTION_LEASES)
    ids = [_mint(local_api, 7_000 + k) for k in range(12)]
    deadline = time.monotonic() + 60
    while _count_status(local_api, ids, ("sent",)) < 3:
        assert time.monotonic() < deadline, _statuses(local_api, ids)
        time.sleep(0.02)
    workers.kill(doomed)
    with Session(local_api.rt.engine) as s:
        sent = s.exec(
            select(TxRequest).where(
                col(TxRequest.id).in_(ids), col(TxRequest.status) == TxStatus.SENT
            )
        ).all()
    assert sent and all(r.claim_token for r in sent)  # held by the dead dispatcher
    sender = local_api.rt.sender
    deadline = time.monotonic() + 30
    while any(sender.receipt(str(r.tx_hash)) is None for r in sent):  # mined all the same
        assert time.monotonic() < deadline
        time.sleep(0.2)

    workers.start(env=PRODUCTION_LEASES)
    assert _mined_within(local_api, ids, 15) < 15  # the lease had ~a minute to go


def _statuses(api: Api, ids: list[str]) -> dict[str, str]:
    with Session(api.rt.engine) as s:
        rows = s.exec(select(TxRequest).where(col(TxRequest.id).in_(ids))).all()
    return {r.id: str(r.status) for r in rows}


def _count_status(api: Api, ids: list[str], wanted: tuple[str, ...]) -> int:
    return sum(1 for s in _statuses(api, ids).values() if s in wanted)


def test_a_batch_of_invoices_goes_out_through_the_celery_worker(local_api: Api) -> None:
    a = local_api.addresses
    bodies = [
        invoice(a["tier1"], a["core"], f"LOCAL-BATCH-{i}", 1_000 + i, days=3000) for i in range(40)
    ]
    r = local_api.as_("tier1").post("/v1/invoices/batch", json={"invoices": bodies})
    assert r.status_code == 202 and r.json()["accepted"] == 40, r.text
    ids = [x["transaction"]["id"] for x in r.json()["results"]]
    assert {x["transaction"]["status"] for x in r.json()["results"]} == {"queued"}
    deadline = time.monotonic() + 120
    while _count_status(local_api, ids, ("mined", "failed")) < len(ids):
        assert time.monotonic() < deadline, _statuses(local_api, ids)
        time.sleep(0.2)
    assert set(_statuses(local_api, ids).values()) == {"mined"}
    receivables = local_api.rt.contracts.receivables.functions
    for tx_id, body in zip(ids, bodies, strict=True):
        result = local_api.as_("tier1").get(f"/v1/transactions/{tx_id}").json()["result"]
        assert receivables.rootOf(result["root_id"]).call()[9] == body["amount"]


def test_exposure_summed_in_postgres_equals_the_python_sums(local_api: Api) -> None:
    """The mirror rows are recorded data under a chain id of their own (not on any chain)."""
    from types import SimpleNamespace

    from backend.services.audit import _exposure_in_python, _exposure_in_sql, exposure

    chain = 990_001
    debtor, other, bank, fund, shop = (f"0x{i:040x}" for i in (0xD1, 0xD2, 0xB1, 0xB2, 0x51))
    big = 2**70  # beyond int64: the sums must stay exact
    with local_api.rt.mirror.begin() as conn:
        for who, roles in ((debtor, 2), (other, 2), (bank, 8), (fund, 8 | 4), (shop, 4)):
            conn.execute(
                text(
                    "INSERT INTO member (chain_id, address, roles, status, entity_id, "
                    "credit_limit, credit_used, added_block, updated_block) "
                    "VALUES (:c, :a, :r, 1, '0x', 0, 0, 1, 1)"
                ),
                {"c": chain, "a": who, "r": roles},
            )
        # root: (id, debtor, face, repaid, status)  2 confirmed, 5 overdue, 6 settled, 1 registered
        roots = [(1, debtor, big, 0, 2), (2, debtor, 1000, 400, 5), (3, other, 500, 500, 6),
                 (4, other, 700, 0, 1)]  # fmt: skip
        for rid, d, face, repaid, status in roots:
            conn.execute(
                text(
                    "INSERT INTO root (chain_id, root_id, debtor, supplier, face_value, due_date, "
                    "invoice_hash, invoice_key, status, frozen, head, cursor, repaid, distributed, "
                    "registered_block, updated_block) VALUES (:c, :i, :d, :s, :f, 0, '0x', '0x', "
                    ":st, false, 0, 0, :rp, 0, 1, 1)"
                ),
                {"c": chain, "i": rid, "d": d, "s": shop, "f": face, "st": status, "rp": repaid},
            )
        # piece: (id, root, holder, amount, paid_out, status)  2 active, 3 split
        pieces = [(10, 1, bank, big - 100, 0, 2), (11, 1, fund, 100, 0, 2),
                  (12, 2, bank, 600, 0, 2), (13, 2, shop, 400, 0, 2), (14, 3, bank, 500, 500, 2),
                  (15, 3, fund, 9, 0, 3), (16, 4, bank, 700, 0, 2),
                  (17, 3, fund, 50, 20, 2)]  # fmt: skip
        for pid, rid, holder, amount, paid, status in pieces:
            conn.execute(
                text(
                    "INSERT INTO piece (chain_id, piece_id, root_id, parent_id, depth, holder, "
                    "amount, status, frozen, paid_out, next_id, created_block, updated_block) "
                    "VALUES (:c, :p, :r, NULL, 0, :h, :a, :st, false, :po, 0, 1, 1)"
                ),
                {
                    "c": chain,
                    "p": pid,
                    "r": rid,
                    "h": holder,
                    "a": amount,
                    "st": status,
                    "po": paid,
                },
            )
    rt = SimpleNamespace(chain_id=chain)
    with Session(local_api.rt.mirror) as mirror:
        in_sql = _exposure_in_sql(rt=rt, mirror=mirror)  # type: ignore[arg-type]
        in_python = _exposure_in_python(rt=rt, mirror=mirror)  # type: ignore[arg-type]
        assert exposure(rt=rt, mirror=mirror) == in_sql  # type: ignore[arg-type]
    assert in_sql == in_python
    assert in_sql["by_debtor"] == [{"debtor": debtor, "outstanding": big + 600, "receivables": 2}]
    assert in_sql["by_financier"] == [
        {"financier": bank, "debtor": debtor, "exposure": big - 100 + 600},
        {"financier": fund, "debtor": debtor, "exposure": 100},
        {"financier": fund, "debtor": other, "exposure": 30},
    ]


def test_holdings_as_of_a_block_by_holder_and_by_page(local_api: Api) -> None:
    auditor = local_api.as_("auditor")
    block = local_api.rt.mirror_cursor()
    everything = auditor.get(f"/v1/audit/holdings?block={block}").json()["holdings"]
    assert len(everything) >= 2
    pages, cursor = [], 0
    for _ in range(len(everything) + 1):
        page = auditor.get(f"/v1/audit/holdings?block={block}&limit=1&cursor={cursor}").json()
        pages += page["holdings"]
        if page["next_cursor"] is None:
            break
        cursor = page["next_cursor"]
    assert pages == everything
    holder = everything[0]["holder"]
    mine = auditor.get(f"/v1/audit/holdings?block={block}&holder={holder}").json()["holdings"]
    assert mine == [h for h in everything if h["holder"] == holder]


def test_events_in_a_block_range_page_by_id_like_the_whole_list(local_api: Api) -> None:
    auditor = local_api.as_("auditor")
    every = auditor.get("/v1/audit/events?limit=500").json()["items"]
    blocks = sorted({e["block_number"] for e in every})
    lo, hi = blocks[len(blocks) // 4], blocks[3 * len(blocks) // 4]
    wanted = [e for e in every if lo <= e["block_number"] <= hi]
    assert len(wanted) >= 3
    got, cursor = [], 0
    for _ in range(len(wanted) + 1):
        page = auditor.get(
            f"/v1/audit/events?from_block={lo}&to_block={hi}&limit=2&cursor={cursor}"
        ).json()
        got += page["items"]
        if page["next_cursor"] is None:
            break
        cursor = page["next_cursor"]
    assert got == wanted


def test_scf_audit_verify_log_checks_the_log_and_its_anchors_on_the_ledger(
    local_api: Api, local_env: dict[str, str]
) -> None:
    from backend.keeper import anchor_action_log

    scf = str(Path(sys.executable).with_name("scf"))
    env = {**os.environ, **local_env}

    def verify() -> tuple[int, dict[str, Any]]:
        done = subprocess.run(
            [scf, "audit", "verify-log", "--json"], env=env, capture_output=True, timeout=120
        )
        report = json.loads(done.stdout) if done.stdout else {"stderr": done.stderr.decode()}
        return done.returncode, report

    anchored = anchor_action_log(local_api.rt)
    assert anchored is not None and anchored["status"] == "mined", anchored
    code, report = verify()
    assert code == 0, report
    assert report["entries"] >= 6 and report["anchors_checked"] >= 1  # the onboardings at least
    with local_api.rt.engine.begin() as conn:
        before = conn.execute(text("SELECT details FROM action_log WHERE seq = 2")).scalar_one()
        conn.execute(text("UPDATE action_log SET details = '{}' WHERE seq = 2"))
    try:
        code, report = verify()
        assert code == 1
        assert report["broken_seq"] == 2 and "2" in report["first_break"]
    finally:
        with local_api.rt.engine.begin() as conn:
            conn.execute(
                text("UPDATE action_log SET details = CAST(:d AS JSONB) WHERE seq = 2"),
                {"d": json.dumps(before)},
            )
    assert verify()[0] == 0
