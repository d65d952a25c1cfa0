"""Executing one transaction request at a time (client-signed, retried, recovered or
abandoned ones; queued custodial requests go in batches through `backend.txn.dispatcher`).

A request moves queued → signed → sent → mined | failed. The signed bytes are stored before
they are broadcast, so a worker that dies at any moment leaves a request that the next attempt
either finishes (receipt found), re-broadcasts (same bytes, same hash) or, only when the chain
shows the stored transaction can never be mined, signs anew. A transaction that may have been
mined is never replaced by a second one.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Any

from eth_utils.address import to_checksum_address
from sqlalchemy import Connection, or_, update
from sqlmodel import Session, col, select

from backend import metrics
from backend.models import TxRequest, TxStatus, utcnow
from backend.runtime import Runtime
from backend.txn.actions import after_mined, build_call, result_from_logs
from backend.txn.approvals import require_covered
from backend.txn.errors import LostClaim, Transient, failure
from backend.txn.nonces import custodial_signer_lock, stored_floors
from chain.errors import ChainError, ContractRevert, TransactionFailed
from chain.outbox import SignedTx, mined_from_receipt

log = logging.getLogger(__name__)


def _set(
    rt: Runtime, request_id: str, token: str | None, conn: Connection | None = None, **values: Any
) -> int:
    """Update a request, only while `token` still holds its claim; returns rows changed.
    Committed at once (through `conn` if given)."""
    values["updated_at"] = utcnow()
    stmt = update(TxRequest).where(TxRequest.id == request_id)  # type: ignore[arg-type]
    if token is not None:
        stmt = stmt.where(TxRequest.claim_token == token)  # type: ignore[arg-type]
    if conn is not None:
        changed = int(conn.execute(stmt.values(**values)).rowcount)
        conn.commit()
        return changed
    with rt.engine.begin() as own:
        return int(own.execute(stmt.values(**values)).rowcount)


def claim(rt: Runtime, request_id: str, token: str) -> bool:
    now = utcnow()
    lease = timedelta(seconds=rt.settings.stuck_after_seconds)
    stmt = (
        update(TxRequest)
        .where(TxRequest.id == request_id)  # type: ignore[arg-type]
        .where(col(TxRequest.status).in_(TxStatus.IN_FLIGHT))
        .where(or_(col(TxRequest.locked_until).is_(None), col(TxRequest.locked_until) < now))
        .values(
            claim_token=token,
            locked_until=now + lease,
            attempts=TxRequest.attempts + 1,
            updated_at=now,
        )
    )
    with rt.engine.begin() as conn:
        return int(conn.execute(stmt).rowcount) == 1


def execute(rt: Runtime, request_id: str) -> TxStatus | None:
    """Run one request as far as it goes; returns its status (None if another attempt has it)."""
    token = uuid.uuid4().hex
    if not claim(rt, request_id, token):
        return None
    try:
        with Session(rt.engine, expire_on_commit=False) as session:
            req = session.get(TxRequest, request_id)
        assert req is not None
        if req.status == TxStatus.QUEUED:
            return _send_new(rt, req, token)
        return _resume(rt, req, token)
    except LostClaim:
        log.warning("tx request taken over by another attempt", extra={"request": request_id})
        return None
    finally:
        _set(rt, request_id, token, claim_token=None, locked_until=None)


def _fail(rt: Runtime, req: TxRequest, token: str, exc: Exception) -> TxStatus:
    code, message, details = failure(exc)
    _set(
        rt,
        req.id,
        token,
        status=TxStatus.FAILED,
        error_code=code,
        error_message=message,
        error_details=details,
    )
    metrics.inc("scf_tx_failed_total", action=req.action, code=code)
    log.info("tx request failed", extra={"request": req.id, "action": req.action, "code": code})
    return TxStatus.FAILED


def _send_new(rt: Runtime, req: TxRequest, token: str) -> TxStatus:
    try:
        require_covered(
            rt,
            request_id=req.id,
            member=req.member,
            signer=req.signer,
            action=req.action,
            params=req.params,
            required=req.approvals_required,
        )
        account = rt.account_for(req.signer)
        fn = build_call(rt, req.action, req.params)
        tx = rt.sender.prepare(fn, account=account)
    except ContractRevert as exc:
        return _fail(rt, req, token, exc)
    except ChainError as exc:
        raise Transient(str(exc)) from exc
    except Exception as exc:  # a request that cannot even be built will never succeed
        return _fail(rt, req, token, exc)

    try:
        with custodial_signer_lock(rt, account.address) as conn:

            def floor() -> int:
                stored = stored_floors(conn, [req.signer]).get(req.signer, 0)
                conn.commit()  # no read transaction held across the broadcast
                return stored

            def record(signed: SignedTx) -> None:
                changed = _set(
                    rt,
                    req.id,
                    token,
                    conn=conn,
                    status=TxStatus.SIGNED,
                    raw_tx="0x" + signed.raw.hex(),
                    tx_hash=signed.tx_hash,
                    nonce=signed.nonce,
                )
                if changed != 1:
                    raise LostClaim(req.id)

            signed = rt.sender.sign_and_send(
                tx,
                account=account,
                record=record,
                floor=floor,
            )
    except ContractRevert as exc:  # the node refused it outright: it is not in any pool
        return _fail(rt, req, token, exc)
    except ChainError as exc:
        raise Transient(str(exc)) from exc
    _set(rt, req.id, token, status=TxStatus.SENT)
    metrics.inc("scf_tx_sent_total", action=req.action)
    return _finish(rt, req, token, signed.tx_hash)


def _resume(rt: Runtime, req: TxRequest, token: str) -> TxStatus:
    assert req.tx_hash is not None and req.raw_tx is not None and req.nonce is not None
    signer = to_checksum_address(req.signer)
    try:
        if rt.sender.receipt(req.tx_hash) is None:
            if rt.sender.dropped(signer, req.nonce, req.tx_hash):
                if req.unsigned_tx is not None:  # client-signed: only the member can sign anew
                    log.warning("client-signed tx can never be mined", extra={"request": req.id})
                    timeout = timedelta(seconds=rt.settings.signature_timeout_seconds)
                    _set(
                        rt,
                        req.id,
                        token,
                        status=TxStatus.AWAITING_SIGNATURE,
                        raw_tx=None,
                        tx_hash=None,
                        nonce=None,
                        expires_at=utcnow() + timeout,
                    )
                    return TxStatus.AWAITING_SIGNATURE
                log.warning("stored tx can never be mined; signing anew", extra={"request": req.id})
                _set(
                    rt, req.id, token, status=TxStatus.QUEUED, raw_tx=None, tx_hash=None, nonce=None
                )
                req.status = TxStatus.QUEUED
                return _send_new(rt, req, token)
            # The signer's earlier stored transactions first: a node holds a nonce above a
            # gap unmined, and a dead dispatcher may have broadcast only some of its batch.
            for raw in _earlier_unmined(rt, req.signer, req.nonce):
                rt.sender.rebroadcast(raw)
            rt.sender.rebroadcast(bytes.fromhex(req.raw_tx.removeprefix("0x")))
            rt.conn.nonces.resync(signer)
            _set(rt, req.id, token, status=TxStatus.SENT)
    except ChainError as exc:
        raise Transient(str(exc)) from exc
    return _finish(rt, req, token, req.tx_hash)


def _earlier_unmined(rt: Runtime, signer: str, nonce: int) -> list[bytes]:
    """The stored bytes of `signer`'s signed or sent transactions below `nonce`, in nonce order
    (re-sending stored bytes is always safe: the same hash, never a second transaction)."""
    with Session(rt.engine) as session:
        rows = session.exec(
            select(TxRequest.raw_tx)
            .where(
                TxRequest.signer == signer.lower(),
                col(TxRequest.status).in_([TxStatus.SIGNED, TxStatus.SENT]),
                col(TxRequest.nonce) < nonce,
                col(TxRequest.raw_tx).is_not(None),
            )
            .order_by(col(TxRequest.nonce))
        ).all()
    return [bytes.fromhex(raw.removeprefix("0x")) for raw in rows if raw]


def _finish(rt: Runtime, req: TxRequest, token: str, tx_hash: str) -> TxStatus:
    try:
        receipt = rt.sender.wait(tx_hash)
    except (ContractRevert, TransactionFailed) as exc:
        return _fail(rt, req, token, exc)
    except ChainError as exc:
        raise Transient(str(exc)) from exc
    mined = mined_from_receipt(receipt)
    assert mined is not None
    result = result_from_logs(rt, req.action, mined.logs)
    _set(
        rt,
        req.id,
        token,
        status=TxStatus.MINED,
        block_number=int(receipt["blockNumber"]),
        result=result,
    )
    with rt.engine.begin() as conn:
        after_mined(conn, [(req.action, req.id, req.params, result)])
    metrics.inc("scf_tx_mined_total", action=req.action)
    return TxStatus.MINED


def past_queued(rt: Runtime, request_id: str) -> bool:
    with Session(rt.engine) as session:
        req = session.get(TxRequest, request_id)
    return req is not None and req.status in (TxStatus.SIGNED, TxStatus.SENT)
