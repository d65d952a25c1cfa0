"""Submitting writes as transaction requests: idempotency, custody check, enqueue, wait."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from backend.deps import Idem, Principal
from backend.errors import Conflict, InvalidInput, NotFound
from backend.models import TxRequest, TxStatus
from backend.pipeline import enqueue, new_request
from backend.runtime import Runtime
from backend.schemas import TxRequestOut

TERMINAL = (TxStatus.MINED, TxStatus.FAILED)


def submit(
    *,
    rt: Runtime,
    session: Session,
    member: Principal,
    action: str,
    params: dict[str, Any],
    idem: Idem | None,
    wait: bool,
    signer: str | None = None,
    before_commit: Callable[[Session, TxRequest], None] | None = None,
) -> TxRequest:
    """Create (or find, for a repeated Idempotency-Key) the request, run it, maybe wait."""
    idempotency_key = idem.key if idem is not None else None
    if idem is not None:
        existing = by_key(session, member.address, idem.key)
        if existing is not None:
            return replay(rt, session, existing, idem, wait)
    signer = (signer or member.address).lower()
    if not rt.has_key(signer):
        raise Conflict(
            "the server holds no key for this member; it cannot sign for it",
            code="SignerNotCustodial",
        )
    req = new_request(
        member=member.address,
        signer=signer,
        action=action,
        params=params,
        idempotency_key=idempotency_key,
        request_hash=idem.request_hash if idem is not None else None,
    )
    session.add(req)
    if before_commit is not None:
        before_commit(session, req)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        if idem is None:
            raise
        existing = by_key(session, member.address, idem.key)
        assert existing is not None
        return replay(rt, session, existing, idem, wait)
    enqueue(req.id)
    return finish_wait(rt, session, req.id, wait)


def by_key(session: Session, member: str, key: str) -> TxRequest | None:
    return session.exec(
        select(TxRequest).where(TxRequest.member == member, TxRequest.idempotency_key == key)
    ).first()


def replay(rt: Runtime, session: Session, existing: TxRequest, idem: Idem, wait: bool) -> TxRequest:
    """The request a repeated Idempotency-Key stands for (the same request, or refused)."""
    if existing.request_hash != idem.request_hash:
        raise InvalidInput(
            "this Idempotency-Key was used for a different request",
            code="IdempotencyKeyReused",
            details={"transaction": existing.id},
        )
    return finish_wait(rt, session, existing.id, wait)


def load(session: Session, request_id: str) -> TxRequest:
    session.expire_all()
    req = session.get(TxRequest, request_id)
    if req is None:
        raise NotFound(f"no transaction request {request_id}")
    return req


def finish_wait(rt: Runtime, session: Session, request_id: str, wait: bool) -> TxRequest:
    """With `wait`, block until mined and visible in the mirror (or failed, or timeout)."""
    req = load(session, request_id)
    if not wait:
        return req
    deadline = time.monotonic() + rt.settings.wait_timeout_seconds
    delay = 0.01
    while req.status not in TERMINAL and time.monotonic() < deadline:
        time.sleep(delay)
        delay = min(delay * 2, 0.2)
        req = load(session, request_id)
    if req.status == TxStatus.MINED and req.block_number is not None:
        wait_mirror(rt, req.block_number, deadline)
    return req


def wait_mirror(rt: Runtime, block: int, deadline: float) -> bool:
    if rt.indexer is not None:
        return rt.indexer.wait_for_block(block, timeout=max(deadline - time.monotonic(), 0.0))
    delay = 0.01
    while rt.mirror_cursor() < block:
        if time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.2)
    return True


def to_public(rt: Runtime, req: TxRequest) -> TxRequestOut:
    out = TxRequestOut.model_validate(req, from_attributes=True)
    if req.status == TxStatus.MINED and req.block_number is not None:
        out.visible_in_mirror = rt.mirror_cursor() >= req.block_number
    return out


def respond(rt: Runtime, req: TxRequest) -> TxRequestOut:
    """The 202 body; a request already refused by the chain is a 409 with its error name."""
    if req.status == TxStatus.FAILED:
        raise Conflict(
            req.error_message or "the ledger refused the transaction",
            code=req.error_code or "TransactionFailed",
            details={**(req.error_details or {}), "transaction": req.id, "tx_hash": req.tx_hash},
        )
    return to_public(rt, req)
