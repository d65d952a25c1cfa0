"""The keeper: distribute due and funded receivables in bounded batches until settled, mark
overdue ones, reconcile the mirror and alert on any mismatch, expire unsigned requests and
recover those a dead worker left unfinished, purge expired login challenges and denylist
entries and uploads that no invoice named, turn ledger events into notifications (and remind
of maturities), deliver them, anchor the action log's head on the ledger.

Its jobs are one table (`JOBS`) that both schedulers read: Celery beat (`backend.worker`) and,
where tasks are eager and no beat runs, the in-process `KeeperThread` of `scf serve`."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select as sa_select
from sqlalchemy import update
from sqlmodel import Session, col, select

from backend import metrics
from backend.models import Alert, FinancingRequest, FinancingStatus, TxRequest, TxStatus
from backend.runtime import Runtime
from backend.services import action_log, approvals
from backend.services.attachments import purge_uploads as purge_unused_uploads
from backend.services.audit import reconciliation
from backend.services.auth import purge_expired
from backend.services.delivery import deliver_due
from backend.services.notifications import notify
from backend.services.views import open_financing_pieces
from backend.settings import BackendSettings
from backend.txn.actions import new_request
from backend.txn.executor import execute
from backend.txn.queue import enqueue
from backend.txn.signed import expire_unsigned
from chain.enums import RootStatus
from indexer.models import LedgerStatus, Root

log = logging.getLogger(__name__)
KEEPER = "keeper"


def _keeper_tx(
    rt: Runtime, action: str, params: dict[str, Any], *, signer: str | None = None
) -> TxRequest:
    """Send one keeper transaction through the pipeline, at once, and return its request
    (signed by the keeper's account unless `signer`, another account the backend holds)."""
    req = new_request(
        member=KEEPER,
        signer=signer or rt.keeper.address,
        action=action,
        params=params,
        idempotency_key=None,
    )
    with Session(rt.engine, expire_on_commit=False) as session:
        session.add(req)
        session.commit()
    execute(rt, req.id)
    with Session(rt.engine, expire_on_commit=False) as session:
        done = session.get(TxRequest, req.id)
    assert done is not None
    return done


def settle_due(rt: Runtime) -> dict[str, int]:
    """Push repayments to holders: for each due root with money in escrow, batches until done."""
    now = rt.conn.latest_timestamp()
    with Session(rt.mirror) as mirror:
        roots = mirror.exec(
            select(Root.root_id)
            .where(
                Root.chain_id == rt.chain_id,
                col(Root.status).in_(RootStatus.PAYABLE),
                col(Root.due_date) <= now,
                Root.frozen == False,  # noqa: E712
                col(Root.repaid) > col(Root.distributed),
            )
            .order_by(col(Root.root_id))
        ).all()
    batches = settled = 0
    for root_id in roots:
        for _ in range(rt.settings.keeper_max_batches):
            state = _root_on_chain(rt, root_id)
            if state["status"] not in RootStatus.PAYABLE or state["frozen"] or state["cursor"] == 0:
                break
            req = _keeper_tx(
                rt,
                "root.distribute",
                {"root_id": root_id, "max_pieces": rt.settings.keeper_batch_size},
            )
            batches += 1
            if req.status != TxStatus.MINED:
                log.warning("distribution failed", extra={"root": root_id, "code": req.error_code})
                break
        if _root_on_chain(rt, root_id)["status"] == RootStatus.SETTLED:
            settled += 1
    metrics.inc("scf_keeper_batches_total", batches)
    return {"roots": len(roots), "batches": batches, "settled": settled}


def _root_on_chain(rt: Runtime, root_id: int) -> dict[str, Any]:
    """The contract's `Root` struct, by field name."""
    fn = rt.contracts.receivables.functions.rootOf(root_id)
    fields = [c["name"] for c in fn.abi["outputs"][0]["components"]]
    return dict(zip(fields, fn.call(), strict=True))


def mark_overdue(rt: Runtime) -> int:
    now = rt.conn.latest_timestamp()
    with Session(rt.mirror) as mirror:
        status = mirror.exec(
            select(LedgerStatus).where(LedgerStatus.chain_id == rt.chain_id)
        ).first()
        grace = status.grace_period if status else 0
        roots = mirror.exec(
            select(Root.root_id).where(
                Root.chain_id == rt.chain_id,
                Root.status == int(RootStatus.CONFIRMED),
                col(Root.due_date) + grace < now,
                col(Root.repaid) < col(Root.face_value),
            )
        ).all()
    marked = 0
    for root_id in roots:
        if _keeper_tx(rt, "root.mark_overdue", {"root_id": root_id}).status == TxStatus.MINED:
            marked += 1
    return marked


def reconcile_and_alert(rt: Runtime) -> bool:
    """Reconcile the mirror with the chain; any mismatch is logged, counted and stored."""
    report = reconciliation(rt=rt)
    metrics.set_gauge("scf_reconcile_mismatches", len(report["mismatches"]))
    if report["ok"]:
        return True
    metrics.inc("scf_reconcile_alerts_total")
    log.error(
        "mirror does not match the chain",
        extra={"block": report["block"], "mismatches": len(report["mismatches"])},
    )
    with Session(rt.engine) as session:
        session.add(
            Alert(
                kind="reconciliation",
                message=f"{len(report['mismatches'])} mismatches at block {report['block']}",
                details={"mismatches": report["mismatches"][:100], "block": report["block"]},
            )
        )
        session.commit()
    return False


def recover_stuck(rt: Runtime) -> int:
    """Re-enqueue requests that no worker finished (their lease has lapsed)."""
    cutoff = datetime.now(UTC) - timedelta(seconds=rt.settings.stuck_after_seconds)
    with Session(rt.engine) as session:
        ids = (
            session.execute(
                sa_select(col(TxRequest.id)).where(
                    col(TxRequest.status).in_(TxStatus.IN_FLIGHT),
                    col(TxRequest.updated_at) < cutoff,
                    (col(TxRequest.locked_until).is_(None))
                    | (col(TxRequest.locked_until) < datetime.now(UTC)),
                )
            )
            .scalars()
            .all()
        )
    for request_id in ids:
        enqueue(request_id)
    if ids:
        log.warning("recovered unfinished tx requests", extra={"count": len(ids)})
    return len(ids)


def run_once(rt: Runtime) -> dict[str, Any]:
    """One keeper round (what beat triggers), for the CLI and tests."""
    marked = mark_overdue(rt)
    settled = settle_due(rt)
    return {"overdue_marked": marked, **settled}


def close_moved_financing(rt: Runtime) -> int:
    """Close open financing requests whose piece left its requester or is no longer active,
    however it moved (through the API or straight on chain); returns how many."""
    with Session(rt.engine) as session, Session(rt.mirror) as mirror:
        live = open_financing_pieces(session, mirror, rt)
    stmt = update(FinancingRequest).where(
        col(FinancingRequest.status) == FinancingStatus.OPEN,
        col(FinancingRequest.piece_id).not_in(live),
    )
    with rt.engine.begin() as conn:
        return int(conn.execute(stmt.values(status=FinancingStatus.CLOSED)).rowcount)


def recover(rt: Runtime) -> int:
    """Expire requests left unsigned past their deadline, then re-enqueue stuck ones."""
    expired = expire_unsigned(rt)
    if expired:
        log.info("expired unsigned tx requests", extra={"count": expired})
    return recover_stuck(rt)


def purge_auth(rt: Runtime) -> dict[str, int]:
    """Delete expired login challenges and denylist entries of tokens that expired since."""
    with Session(rt.engine) as session:
        purged = purge_expired(session=session, now=datetime.now(UTC))
    if any(purged.values()):
        log.info("purged expired login state", extra=purged)
    return purged


def expire_approvals(rt: Runtime) -> int:
    """End the actions whose approvers did not come before the deadline."""
    with Session(rt.engine) as session:
        ended = approvals.expire_lapsed(session)
    if ended:
        log.info("pending approvals expired", extra={"requests": ended})
    return ended


def purge_uploads(rt: Runtime) -> dict[str, int]:
    """Delete uploads past their retention, and the bytes that nothing holds any more."""
    before = datetime.now(UTC) - timedelta(hours=rt.settings.upload_retention_hours)
    with Session(rt.engine) as session:
        purged = purge_unused_uploads(session=session, blobs=rt.blobs, before=before)
    if any(purged.values()):
        log.info("purged unused uploads", extra=purged)
    return purged


def anchor_action_log(rt: Runtime) -> dict[str, Any] | None:
    """Write the action log's head (seq, hash) to the ledger, if it moved since the last anchor.
    Signed by the operator: only an operator may anchor (`MemberRegistry.anchorLog`)."""
    with Session(rt.engine) as session:
        seq, head = action_log.head(session)
    anchored, _ = action_log.last_anchor(rt)
    if seq <= anchored:
        return None
    req = _keeper_tx(
        rt, "log.anchor", {"seq": seq, "head": "0x" + head}, signer=rt.operator.address
    )
    if req.status != TxStatus.MINED:
        log.warning("action log anchor failed", extra={"seq": seq, "code": req.error_code})
    return {"seq": seq, "head": head, "status": str(req.status), "tx_hash": req.tx_hash}


# -- the schedule ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """A keeper job: its name (the Celery task is `scf.keeper.<name>`), how often it runs, and
    what it does."""

    name: str
    every: Callable[[BackendSettings], float]
    run: Callable[[Runtime], Any]

    @property
    def task(self) -> str:
        return f"scf.keeper.{self.name}"


JOBS: tuple[Job, ...] = (
    Job("settle", lambda s: s.keeper_interval_seconds, run_once),
    Job("reconcile", lambda s: s.reconcile_interval_seconds, reconcile_and_alert),
    Job("recover", lambda s: s.stuck_after_seconds / 2, recover),
    Job("financing", lambda s: s.keeper_interval_seconds, close_moved_financing),
    Job("purge_auth", lambda s: s.auth_purge_interval_seconds, purge_auth),
    Job("expire_approvals", lambda s: s.auth_purge_interval_seconds, expire_approvals),
    Job("purge_uploads", lambda s: s.upload_purge_interval_seconds, purge_uploads),
    Job("notify", lambda s: s.notify_interval_seconds, notify),
    Job("deliver", lambda s: s.deliver_interval_seconds, deliver_due),
    Job("anchor_log", lambda s: s.action_log_anchor_interval_seconds, anchor_action_log),
)


class KeeperThread(threading.Thread):
    """The keeper's schedule in process, for a server whose tasks are eager (no beat runs):
    each job of `JOBS` on its own interval."""

    def __init__(self, rt: Runtime) -> None:
        super().__init__(name="scf-keeper", daemon=True)
        self.rt = rt
        self._stop_event = threading.Event()

    def run(self) -> None:
        start = time.monotonic()
        due = {job.name: start + job.every(self.rt.settings) for job in JOBS}
        while not self._stop_event.wait(max(min(due.values()) - time.monotonic(), 0)):
            now = time.monotonic()
            for job in JOBS:
                if due[job.name] > now:
                    continue
                due[job.name] = now + job.every(self.rt.settings)
                try:
                    outcome = job.run(self.rt)
                    log.debug("keeper job done", extra={"job": job.name, "outcome": outcome})
                except Exception:
                    log.exception("keeper job failed", extra={"job": job.name})

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=30)
