"""Custodial requests in batches: the fast path of the transaction pipeline.

One dispatcher runs at a time (a thread lock in the process, a PostgreSQL advisory lock across
processes). It claims every queued custodial request, estimates them in one JSON-RPC batch, signs
them with consecutive nonces per signer, stores the signed bytes (one statement), broadcasts them
in batches (one transaction per signer each, no more gas than a block holds), and confirms them
from receipts fetched in batches once per new block. It keeps claiming while requests arrive and
returns when nothing is queued or in flight.

Every guarantee of `backend.txn.executor` holds here: claims carry a token and a lease, signed bytes
are stored before the broadcast, a request whose broadcast failed stays signed for the
single-request path to re-broadcast (never re-sign), and a refusal fails the request with the
contract's error name. Requests this path does not finish (lease lost, no receipt in time) are
left to `executor.execute`, which the keeper's recovery sweep runs.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from eth_account.signers.local import LocalAccount
from sqlalchemy import Connection, and_, bindparam, func, or_, select, text, update

from backend import metrics
from backend.models import TxRequest, TxStatus, as_utc, utcnow
from backend.runtime import Runtime
from backend.txn.actions import after_mined, encode_call, result_from_logs
from backend.txn.approvals import require_covered
from backend.txn.errors import Transient, failure
from backend.txn.nonces import signer_locks, stored_floors
from backend.txn.queue import enqueue
from chain.errors import ChainError, ContractRevert, NonceError
from chain.outbox import Mined

log = logging.getLogger(__name__)

_local = threading.Lock()  # one dispatcher per process; the advisory lock covers the others
_LOCK_KEY = "scf-dispatcher"
#: A dispatcher's claim tokens start with this: whoever holds the dispatcher lock knows that
#: any such claim but its own is a dead dispatcher's.
_TOKEN_PREFIX = "dispatcher:"
_RECHECK_SECONDS = 0.5
_T = TxRequest.__table__  # type: ignore[attr-defined]


@dataclass
class _Job:
    id: str
    signer: str
    action: str
    params: dict[str, Any]
    member: str = ""
    approvals_required: int = 0
    account: LocalAccount | None = None
    tx: dict[str, Any] | None = None
    raw: bytes = b""
    tx_hash: str = ""
    nonce: int = -1
    sent_at: float = 0.0


def run(rt: Runtime) -> int | None:
    """Dispatch until nothing is queued or in flight; returns how many requests it finished,
    or None at once if another dispatcher is running: that one takes what is queued (a request
    queued just as it stops is seen by its check after releasing the lock)."""
    finished: int | None = None
    while True:
        with _exclusive(rt) as held:
            if not held:
                return finished
            dispatcher = _Dispatcher(rt)
            dispatcher.lapse_dead_claims()
            finished = (finished or 0) + dispatcher.loop()
        if not _queued_waiting(rt):
            return finished


def abandoned(rt: Runtime, limit: int = 100) -> list[str]:
    """Signed or sent requests no attempt looks after: their claim lapsed (the attempt that
    held them died: a dispatcher holds many requests under one message), or none holds them and
    they have not moved for the stuck delay. `executor.execute` resumes each."""
    now = utcnow()
    quiet = now - timedelta(seconds=rt.settings.stuck_after_seconds)
    with rt.engine.connect() as conn:
        return list(
            conn.execute(
                select(_T.c.id)
                .where(
                    _T.c.status.in_([TxStatus.SIGNED, TxStatus.SENT]),
                    or_(
                        and_(_T.c.claim_token.is_not(None), _T.c.locked_until < now),
                        and_(_T.c.claim_token.is_(None), _T.c.updated_at < quiet),
                    ),
                )
                .limit(limit)
            ).scalars()
        )


def next_lapse(rt: Runtime) -> datetime | None:
    """When the next unfinished request may need rescuing (its claim lapses, or it has sat
    unclaimed for the stuck delay); None if no request is unfinished."""
    stuck = timedelta(seconds=rt.settings.stuck_after_seconds)
    with rt.engine.connect() as conn:
        claimed, unclaimed = conn.execute(
            select(
                func.min(_T.c.locked_until).filter(_T.c.claim_token.is_not(None)),
                func.min(_T.c.updated_at).filter(
                    _T.c.claim_token.is_(None), _T.c.status != TxStatus.QUEUED
                ),
            ).where(_T.c.status.in_([TxStatus.QUEUED, TxStatus.SIGNED, TxStatus.SENT]))
        ).one()
    moments = [as_utc(claimed)] if claimed is not None else []
    if unclaimed is not None:
        moments.append(as_utc(unclaimed) + stuck)
    return min(moments, default=None)


@contextmanager
def _exclusive(rt: Runtime) -> Iterator[bool]:
    if not _local.acquire(blocking=False):
        yield False
        return
    try:
        if rt.engine.dialect.name != "postgresql":
            yield True
            return
        with rt.engine.connect() as conn:
            key = {"k": _LOCK_KEY}
            got = conn.execute(
                text("SELECT pg_try_advisory_lock(hashtextextended(:k, 0))"), key
            ).scalar()
            conn.commit()
            try:
                yield bool(got)
            finally:
                if got:
                    conn.execute(text("SELECT pg_advisory_unlock(hashtextextended(:k, 0))"), key)
                    conn.commit()
    finally:
        _local.release()


def _queued_waiting(rt: Runtime) -> bool:
    with rt.engine.connect() as conn:
        return bool(
            conn.execute(
                select(func.count())
                .select_from(_T)
                .where(_T.c.status == TxStatus.QUEUED, _T.c.claim_token.is_(None))
            ).scalar()
        )


class _Dispatcher:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.token = _TOKEN_PREFIX + uuid.uuid4().hex
        self.inflight: dict[str, _Job] = {}  # by tx hash
        self.finished = 0
        self.block_gas_limit = int(rt.conn.w3.eth.get_block("latest")["gasLimit"])

    def lapse_dead_claims(self) -> int:
        """End the leases of a dead dispatcher's claims at once, rather than when they lapse.

        Only the dispatcher holding the lock claims under a dispatcher token, and it lets go of
        its claims before it lets go of the lock; a process that dies loses its session and so
        the advisory lock (the process lock when embedded). Holding the lock, any other
        dispatcher token is a dead run's: its queued requests are claimed again by this run and
        its signed or sent ones resumed by `executor.execute` (`abandoned`). Should its holder
        live on after all (its database session lost), every write of its is still checked
        against its token, and the executor only re-sends stored bytes: nothing is sent twice."""
        now = utcnow()
        with self.rt.engine.begin() as conn:
            lapsed = int(
                conn.execute(
                    update(_T)
                    .where(
                        _T.c.status.in_([TxStatus.QUEUED, TxStatus.SIGNED, TxStatus.SENT]),
                        _T.c.claim_token.like(_TOKEN_PREFIX + "%"),
                        _T.c.claim_token != self.token,
                        _T.c.locked_until >= now,
                    )
                    .values(locked_until=now - timedelta(microseconds=1))
                ).rowcount
            )
        if lapsed:
            log.warning("took over a dead dispatcher's claims", extra={"requests": lapsed})
        return lapsed

    def loop(self) -> int:
        rt = self.rt
        poll = rt.chain_settings.receipt_poll_seconds
        last_head, last_confirm = -1, 0.0
        while True:
            jobs = self._claim()
            if jobs:
                self._send(jobs)
            if not self.inflight:
                if not jobs:
                    return self.finished
                continue
            # receipts once per new block, and now and then regardless: a node may count a
            # block before its receipts can be read
            head = rt.conn.w3.eth.block_number
            since = time.monotonic() - last_confirm
            if (head != last_head and since >= poll) or since >= _RECHECK_SECONDS:
                self._confirm()
                last_head, last_confirm = head, time.monotonic()
            elif len(jobs) < rt.settings.dispatch_batch_size:
                # let requests gather: one claim, estimate and broadcast round for many
                # rather than one each (a block takes far longer than this wait)
                time.sleep(poll)

    # -- claim ---------------------------------------------------------------------------

    def _claim(self) -> list[_Job]:
        rt = self.rt
        now = utcnow()
        free = or_(_T.c.locked_until.is_(None), _T.c.locked_until < now)
        oldest = (
            select(_T.c.id)
            .where(_T.c.status == TxStatus.QUEUED, free)
            .order_by(_T.c.created_at)
            .limit(rt.settings.dispatch_batch_size)
        )
        stmt = (
            update(_T)
            .where(_T.c.id.in_(oldest.scalar_subquery()), _T.c.status == TxStatus.QUEUED, free)
            .values(
                claim_token=self.token,
                locked_until=now + timedelta(seconds=rt.settings.stuck_after_seconds),
                attempts=_T.c.attempts + 1,
                updated_at=now,
            )
            .returning(
                _T.c.id,
                _T.c.signer,
                _T.c.action,
                _T.c.params,
                _T.c.created_at,
                _T.c.member,
                _T.c.approvals_required,
            )
        )
        with rt.engine.begin() as conn:
            rows = sorted(  # a signer's nonces follow the order its requests were made in
                conn.execute(stmt).all(), key=lambda r: (r.created_at, r.id)
            )
        return [
            _Job(r.id, r.signer, r.action, r.params, r.member, r.approvals_required) for r in rows
        ]

    # -- send ----------------------------------------------------------------------------

    def _send(self, jobs: list[_Job]) -> None:
        rt = self.rt
        fees = rt.sender.fee_fields()
        ready: list[_Job] = []
        for job in jobs:
            try:
                require_covered(
                    rt,
                    request_id=job.id,
                    member=job.member,
                    signer=job.signer,
                    action=job.action,
                    params=job.params,
                    required=job.approvals_required,
                )
                job.account = rt.account_for(job.signer)
                to, data = encode_call(rt, job.action, job.params)
                job.tx = {
                    "from": job.account.address,
                    "to": to,
                    "data": data,
                    "value": 0,
                    "chainId": rt.conn.chain_id,
                    **fees,
                }
            except Exception as exc:  # a request that cannot even be built will never succeed
                self._fail(job, *failure(exc))
                continue
            ready.append(job)
        try:
            gases = rt.sender.estimate_many([cast(Any, j.tx) for j in ready])
            if any(type(g) is ChainError for g in gases):  # not a refusal: the node is unwell
                raise next(g for g in gases if type(g) is ChainError)
        except ChainError as exc:
            self._release(ready)
            raise Transient(str(exc)) from exc
        signable: list[_Job] = []
        for job, gas in zip(ready, gases, strict=True):
            if isinstance(gas, ContractRevert):
                self._fail(job, *failure(gas))
            else:
                assert job.tx is not None and isinstance(gas, int)
                job.tx["gas"] = gas
                signable.append(job)
        # no more than a block holds at a time: a node that mines on arrival (anvil) would
        # leave the rest pending until the next transaction comes
        chunk: list[_Job] = []
        room = self.block_gas_limit
        for job in signable:
            gas = int(cast(dict[str, Any], job.tx)["gas"])
            if chunk and gas > room:
                self._sign_store_broadcast(chunk)
                chunk, room = [], self.block_gas_limit
            chunk.append(job)
            room -= gas
        if chunk:
            self._sign_store_broadcast(chunk)

    def _sign_store_broadcast(self, jobs: list[_Job]) -> None:
        rt = self.rt
        nonces = rt.conn.nonces
        signers = sorted({j.account.address for j in jobs if j.account is not None})
        with rt.engine.connect() as conn, ExitStack() as held:
            # the same locks the single-request path takes, in one order: no deadlock
            for address in signers:
                held.enter_context(nonces.lock_for(address))
            held.enter_context(signer_locks(conn, [s.lower() for s in signers]))
            floors = stored_floors(conn, [s.lower() for s in signers])
            conn.commit()
            for job in jobs:
                assert job.account is not None and job.tx is not None
                address = job.account.address
                nonce = max(nonces.peek(address), floors.get(address.lower(), 0))
                job.tx["nonce"] = nonce
                signed = job.account.sign_transaction(job.tx)
                job.raw, job.nonce = bytes(signed.raw_transaction), nonce
                job.tx_hash = "0x" + bytes(signed.hash).hex()
                nonces.advance(address, nonce)
            kept = self._store_signed(conn, jobs)
            kept, refusals = self._broadcast_in_nonce_order(kept)
            sent, retry, failed = [], [], []
            for job, err in zip(kept, refusals, strict=True):
                if err is None:
                    sent.append(job)
                elif isinstance(err, ContractRevert):  # refused outright: its nonce is free
                    failed.append((job, err))
                    nonces.resync(job.account.address if job.account else job.signer)
                else:
                    # nonce taken: never mined; unknown: maybe pooled. Both are the single
                    # path's to resolve from the chain (re-sign or re-broadcast)
                    retry.append(job)
                    if isinstance(err, NonceError):
                        nonces.resync(job.account.address if job.account else job.signer)
            now = time.monotonic()
            self._bulk(conn, sent, status=TxStatus.SENT)
            conn.commit()
        for job in sent:
            job.sent_at = now
            self.inflight[job.tx_hash] = job
            metrics.inc("scf_tx_sent_total", action=job.action)
        for job, exc in failed:
            self._fail(job, *failure(exc))
        if retry:
            self._release(retry)
            for job in retry:
                enqueue(job.id)

    def _broadcast_in_nonce_order(
        self, jobs: list[_Job]
    ) -> tuple[list[_Job], list[ChainError | None]]:
        """One batch per rank: every signer's first transaction, then every second one, ...
        A node may take a batch's entries in any order, and one that sees a nonce before the
        one below it parks it as a future transaction (anvil's automine then never mines it)."""
        waves: list[list[_Job]] = []
        rank: dict[str, int] = {}
        for job in jobs:
            k = rank[job.signer] = rank.get(job.signer, -1) + 1
            if k == len(waves):
                waves.append([])
            waves[k].append(job)
        ordered: list[_Job] = []
        refusals: list[ChainError | None] = []
        for wave in waves:
            ordered += wave
            refusals += self.rt.sender.broadcast_many([j.raw for j in wave])
        return ordered, refusals

    def _store_signed(self, conn: Connection, jobs: list[_Job]) -> list[_Job]:
        """Store the signed bytes before anything is broadcast. A request whose claim was lost
        (its lease lapsed) is not broadcast, nor are its signer's later ones: re-queued, they
        are signed anew behind the nonce the other attempt takes."""
        changed = self._bulk(
            conn,
            jobs,
            status=TxStatus.SIGNED,
            raw_tx=lambda j: "0x" + j.raw.hex(),
            tx_hash=lambda j: j.tx_hash,
            nonce=lambda j: j.nonce,
        )
        conn.commit()
        if changed == len(jobs):
            return jobs
        mine = set(
            conn.execute(
                select(_T.c.id).where(
                    _T.c.id.in_([j.id for j in jobs]), _T.c.claim_token == self.token
                )
            ).scalars()
        )
        conn.commit()
        lost_signers = {j.signer for j in jobs if j.id not in mine}
        keep = [j for j in jobs if j.signer not in lost_signers]
        requeue = [j for j in jobs if j.signer in lost_signers and j.id in mine]
        self._bulk(conn, requeue, status=TxStatus.QUEUED, raw_tx=None, tx_hash=None, nonce=None)
        conn.commit()
        self._release(requeue)
        for job in jobs:
            if job.signer in lost_signers and job.account is not None:
                self.rt.conn.nonces.resync(job.account.address)
                lost_signers.discard(job.signer)
        log.warning("dispatch lost claims", extra={"requeued": len(requeue)})
        return keep

    # -- confirm -------------------------------------------------------------------------

    def _confirm(self) -> None:
        rt = self.rt
        hashes = list(self.inflight)
        try:
            receipts = rt.sender.receipts_many(hashes)
        except ChainError as exc:
            log.warning("receipts unavailable, will retry", extra={"err": str(exc)})
            return
        mined: list[tuple[_Job, Mined]] = []
        now = time.monotonic()
        timeout = rt.chain_settings.receipt_timeout_seconds
        for h, receipt in zip(hashes, receipts, strict=True):
            job = self.inflight[h]
            if receipt is None:
                if now - job.sent_at > timeout:  # dropped or stuck: the single path decides
                    del self.inflight[h]
                    self._release([job])
                continue
            del self.inflight[h]
            if receipt.ok:
                mined.append((job, receipt))
            else:
                self._explain(job)
        if not mined:
            return
        results = {job.id: result_from_logs(rt, job.action, r.logs) for job, r in mined}
        blocks = {job.id: r.block_number for job, r in mined}
        with rt.engine.connect() as conn:
            self._bulk(
                conn,
                [j for j, _ in mined],
                status=TxStatus.MINED,
                block_number=lambda j: blocks[j.id],
                result=lambda j: results[j.id],
                claim_token=None,
                locked_until=None,
            )
            after_mined(conn, [(j.action, j.id, j.params, results[j.id]) for j, _ in mined])
            conn.commit()
        for job, _ in mined:
            metrics.inc("scf_tx_mined_total", action=job.action)
        self.finished += len(mined)

    def _explain(self, job: _Job) -> None:
        """A mined transaction that reverted: its error name, replayed from the chain."""
        rt = self.rt
        receipt = rt.sender.receipt(job.tx_hash)
        assert receipt is not None
        exc = rt.sender.explain_failure(receipt)
        self._fail(job, *failure(exc), block=receipt["blockNumber"])

    # -- bookkeeping ---------------------------------------------------------------------

    def _bulk(self, conn: Connection, jobs: list[_Job], **values: Any) -> int:
        """One UPDATE for many requests (executemany), each only while this run holds it;
        a callable value is evaluated per request."""
        if not jobs:
            return 0
        now = utcnow()
        names = list(values)
        stmt = (
            update(_T)
            .where(_T.c.id == bindparam("b_id"), _T.c.claim_token == self.token)
            .values(updated_at=now, **{n: bindparam("b_" + n) for n in names})
        )
        rows = [
            {"b_id": j.id, **{"b_" + n: v(j) if callable(v) else v for n, v in values.items()}}
            for j in jobs
        ]
        return int(conn.execute(stmt, rows).rowcount)

    def _release(self, jobs: list[_Job]) -> None:
        if not jobs:
            return
        with self.rt.engine.connect() as conn:
            self._bulk(conn, jobs, claim_token=None, locked_until=None)
            conn.commit()

    def _fail(
        self, job: _Job, code: str, message: str, details: dict[str, Any], block: int | None = None
    ) -> None:
        with self.rt.engine.connect() as conn:
            self._bulk(
                conn,
                [job],
                status=TxStatus.FAILED,
                error_code=code,
                error_message=message,
                error_details=details,
                block_number=block,
                claim_token=None,
                locked_until=None,
            )
            conn.commit()
        metrics.inc("scf_tx_failed_total", action=job.action, code=code)
        log.info("tx request failed", extra={"request": job.id, "action": job.action, "code": code})
        self.finished += 1
