"""The keeper (Celery beat): distribute due and funded receivables in bounded batches until
settled, mark overdue ones, reconcile the mirror and alert on any mismatch, and recover
transaction requests that a dead worker left unfinished."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from backend import metrics
from backend.models import Alert, TxRequest, TxStatus
from backend.pipeline import ACTIVE, celery_app, enqueue, execute, expire_unsigned, new_request
from backend.runtime import Runtime, get_runtime
from backend.settings import BackendSettings
from chain.enums import RootStatus
from indexer.models import LedgerStatus, Root

log = logging.getLogger(__name__)
KEEPER = "keeper"


def _keeper_tx(rt: Runtime, action: str, params: dict[str, Any]) -> TxRequest:
    """Send one keeper transaction through the pipeline, at once, and return its request."""
    req = new_request(
        member=KEEPER,
        signer=rt.keeper.address,
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
                col(Root.status).in_([int(RootStatus.CONFIRMED), int(RootStatus.OVERDUE)]),
                col(Root.due_date) <= now,
                Root.frozen == False,  # noqa: E712
                col(Root.repaid) > col(Root.distributed),
            )
            .order_by(col(Root.root_id))
        ).all()
    rc = rt.contracts.receivables.functions
    batches = settled = 0
    for root_id in roots:
        for _ in range(rt.settings.keeper_max_batches):
            state = rc.rootOf(root_id).call()
            status, frozen, cursor = RootStatus(state[2]), state[3], state[6]
            if status not in (RootStatus.CONFIRMED, RootStatus.OVERDUE) or frozen or cursor == 0:
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
        if RootStatus(rc.rootOf(root_id).call()[2]) == RootStatus.SETTLED:
            settled += 1
    metrics.inc("scf_keeper_batches_total", batches)
    return {"roots": len(roots), "batches": batches, "settled": settled}


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
    from backend.services.audit import reconciliation

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
                    col(TxRequest.status).in_(ACTIVE),
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


@celery_app.task(name="scf.keeper.settle")  # type: ignore[untyped-decorator]
def keeper_settle_task() -> dict[str, Any]:
    return run_once(get_runtime())


@celery_app.task(name="scf.keeper.reconcile")  # type: ignore[untyped-decorator]
def keeper_reconcile_task() -> bool:
    return reconcile_and_alert(get_runtime())


@celery_app.task(name="scf.keeper.recover")  # type: ignore[untyped-decorator]
def keeper_recover_task() -> int:
    rt = get_runtime()
    expired = expire_unsigned(rt)
    if expired:
        log.info("expired unsigned tx requests", extra={"count": expired})
    return recover_stuck(rt)


def beat_schedule(settings: BackendSettings) -> dict[str, dict[str, Any]]:
    return {
        "settle": {"task": "scf.keeper.settle", "schedule": settings.keeper_interval_seconds},
        "reconcile": {
            "task": "scf.keeper.reconcile",
            "schedule": settings.reconcile_interval_seconds,
        },
        "recover": {"task": "scf.keeper.recover", "schedule": settings.stuck_after_seconds / 2},
    }
