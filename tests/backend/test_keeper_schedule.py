"""The keeper's jobs, run by the in-process thread of `scf serve` on the embedded profile (no
Celery beat), and the one nonce floor every signing path uses."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session

from backend.config import load_config
from backend.keeper import JOBS
from backend.models import TxRequest, TxStatus
from backend.runtime import Runtime
from backend.tools.serve import build_app
from backend.txn.actions import new_request
from backend.txn.nonces import stored_floors
from backend.worker import beat_schedule
from chain.connection import dev_account


def _store(rt: Runtime, req: TxRequest, **values: object) -> str:
    for name, value in values.items():
        setattr(req, name, value)
    with Session(rt.engine, expire_on_commit=False) as session:
        session.add(req)
        session.commit()
    return req.id


def _status(rt: Runtime, request_id: str) -> TxStatus:
    with Session(rt.engine) as session:
        req = session.get(TxRequest, request_id)
        assert req is not None
        return req.status


def test_the_in_process_keeper_recovers_a_stuck_request_and_expires_an_unsigned_one() -> None:
    config = load_config(profile="embedded", stuck_after_seconds=1.0)
    app = build_app(config, keeper=True)
    operator = dev_account(0).address
    with TestClient(app):
        rt: Runtime = app.state.runtime
        long_ago = datetime.now(UTC) - timedelta(minutes=5)
        # a queued mint whose message was lost: no worker will ever take it unless recovered
        stuck = _store(
            rt,
            new_request(
                member=operator,
                signer=operator,
                action="cash.mint",
                params={"account": operator, "amount": 7},
                idempotency_key=None,
            ),
            updated_at=long_ago,
        )
        # a member's prepared transaction, past its signing deadline and never read again
        unsigned = _store(
            rt,
            new_request(
                member=operator,
                signer=operator,
                action="ledger.pause",
                params={},
                idempotency_key=None,
            ),
            status=TxStatus.AWAITING_SIGNATURE,
            expires_at=long_ago,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if (_status(rt, stuck), _status(rt, unsigned)) == (TxStatus.MINED, TxStatus.EXPIRED):
                break
            time.sleep(0.2)
        assert _status(rt, stuck) == TxStatus.MINED
        assert _status(rt, unsigned) == TxStatus.EXPIRED
        token = rt.contracts.token.functions
        assert token.balanceOf(operator).call() >= 7


def test_celery_beat_runs_every_keeper_job_on_its_interval() -> None:
    settings = load_config(profile="embedded").backend
    schedule = beat_schedule(settings)
    assert (
        sorted(schedule)
        == sorted(job.name for job in JOBS)
        == [
            "anchor_log",
            "deliver",
            "expire_approvals",
            "financing",
            "notify",
            "purge_auth",
            "purge_uploads",
            "reconcile",
            "recover",
            "settle",
        ]
    )
    assert schedule["recover"] == {
        "task": "scf.keeper.recover",
        "schedule": settings.stuck_after_seconds / 2,
    }


def test_the_nonce_floor_counts_signed_sent_and_mined_requests_only() -> None:
    config = load_config(profile="embedded")
    app = build_app(config, keeper=False)
    a, b, c = (dev_account(i).address.lower() for i in (3, 4, 5))
    with TestClient(app):
        rt: Runtime = app.state.runtime
        rows = [
            (a, TxStatus.MINED, 41),  # mined: a lagging node may not count it yet
            (a, TxStatus.SENT, 12),
            (a, TxStatus.FAILED, 99),  # refused outright: its nonce was never used
            (b, TxStatus.SIGNED, 7),
            (c, TxStatus.FAILED, 3),
        ]
        for signer, status, nonce in rows:
            _store(
                rt,
                new_request(
                    member=signer,
                    signer=signer,
                    action="ledger.pause",
                    params={},
                    idempotency_key=None,
                ),
                status=status,
                nonce=nonce,
            )
        with rt.engine.connect() as conn:
            assert stored_floors(conn, [a, b, c]) == {a: 42, b: 8}
