"""Submitting writes as transaction requests: idempotency, custody or client signature,
enqueue, wait."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel

from backend.db import insert_new
from backend.errors import Conflict, Forbidden, InvalidInput, NotFound
from backend.models import TxRequest, TxStatus, as_utc
from backend.permissions import amount_in, permission_for
from backend.runtime import Runtime
from backend.schemas import TxRequestOut
from backend.services import action_log, approval_notice, policies
from backend.services.context import Idem, Principal, WriteContext, by_key, require_same_request
from backend.txn.actions import WHILE_SUSPENDED, approval_hash, new_request
from backend.txn.nonces import provisional_nonce
from backend.txn.queue import enqueue
from backend.txn.signed import (
    NonceNotNext,
    expire_unsigned,
    prepare_unsigned,
    signed_mismatches,
    store_signed,
)
from chain.outbox import decode_signed_transaction


def submit(
    *,
    ctx: WriteContext,
    member: Principal,
    action: str,
    params: dict[str, Any],
    signer: str | None = None,
    with_request: Callable[[TxRequest], Iterable[SQLModel]] | None = None,
    log: action_log.Logged | None = None,
    amount: int | None = None,
) -> TxRequest:
    """Create (or find, for a repeated Idempotency-Key) the request, run it, maybe wait.

    A staff user needs the action's permission, and for money an amount limit that covers
    `amount` (what the write commits; by default what its parameters name). A custodial write
    its member's policy covers is stored pending approval, and sent only once approved
    (`backend.services.approvals`).

    A repeated key was replayed before the checks (`replay_first`), or meets the key's unique
    constraint here (a concurrent first use, or a service that looks keys up only when a check
    refuses): either way it is answered with the request it stands for. With `log`, the action
    log's entry is written in the request's transaction (a replay writes none)."""
    rt, session, idem, wait = ctx.rt, ctx.session, ctx.idem, ctx.wait
    idempotency_key = idem.key if idem is not None else None
    signer = (signer or member.address).lower()
    custodial = rt.has_key(signer)
    amount = amount if amount is not None else amount_in(action, params)
    member.require(permission_for(action), amount=amount)
    req = new_request(
        member=member.address,
        signer=signer,
        action=action,
        params=params,
        idempotency_key=idempotency_key,
        request_hash=idem.request_hash if idem is not None else None,
    )
    if member.user is not None:
        req.made_by, req.maker_id = member.user.login, member.user.id
    # members that sign themselves approve in their own systems
    policy = policies.effective(session, member.address, action) if custodial else None
    pending = policy is not None and policy.applies(amount)
    if pending:
        assert policy is not None
        req.status = TxStatus.PENDING_APPROVAL
        req.approvals_required = policy.approvers
        req.action_hash = approval_hash(req)
        req.expires_at = datetime.now(UTC) + timedelta(hours=rt.settings.approval_hours)
    if not custodial:
        # the member signs: prepare here so that the 202 carries the transaction to sign
        prepare_unsigned(rt, req)
    try:
        insert_new(session, req)
        # rows stored with the request, in its transaction, one after the other: a later
        # row may be built from an earlier one's generated key
        for row in with_request(req) if with_request is not None else ():
            insert_new(session, row)
        if log is None and action in action_log.LOGGED_ACTIONS:
            log = action_log.Logged(action, details=_loggable(params))
        if log is not None:
            action_log.record(
                session,
                member=member.address,
                user=member.login,
                action=log.action,
                result=action_log.SUBMITTED,
                source_ip=member.source_ip,
                target=log.target,
                details={**log.details, "transaction": req.id},
            )
        if pending:
            approval_notice.notify_requested(ctx, req, amount)
            action_log.record(
                session,
                member=member.address,
                user=member.login,
                action="approval.make",
                result=action_log.OK,
                source_ip=member.source_ip,
                target=req.id,
                details={"action": action, "amount": amount, "approvers": req.approvals_required},
            )
        session.commit()
    except IntegrityError:
        session.rollback()
        if idem is None:
            raise
        existing = by_key(session, member.address, idem.key)
        assert existing is not None
        return replay(rt, session, existing, idem, wait)
    if pending:
        return req
    if custodial:
        enqueue(req.id, batched=True)
        if not wait and not rt.settings.eager:
            return req  # queued: what it was when committed, without reading it back
    return finish_wait(rt, session, req.id, wait)


def submit_signature(
    *, rt: Runtime, session: Session, member: Principal, request_id: str, raw_tx: str, wait: bool
) -> TxRequest:
    """Take a member's signed transaction for its prepared request, check that it is exactly
    what was prepared and signed by the member, store it and hand it to the workers."""
    req = load(rt, session, request_id)
    if req.member != member.address:
        raise NotFound(f"no transaction request {request_id}")
    if member.suspended and req.action not in WHILE_SUSPENDED:
        raise Forbidden("this member is suspended", code="MemberSuspended")
    try:
        raw = bytes.fromhex(raw_tx.removeprefix("0x"))
        tx = decode_signed_transaction(raw)
    except ValueError as exc:
        raise InvalidInput(str(exc), code="BadSignedTransaction") from exc
    if req.raw_tx is not None and req.raw_tx == "0x" + raw.hex():
        return finish_wait(rt, session, req.id, wait)  # the same bytes again: nothing to do
    _must_await_signature(req)
    mismatches = signed_mismatches(req, tx)
    if mismatches:
        raise InvalidInput(
            "the signed transaction is not the one prepared, or not signed by the member",
            code="SignedTransactionMismatch",
            details={"transaction": req.id, "fields": mismatches},
        )
    try:
        stored = store_signed(rt, req, raw, tx)
    except NonceNotNext as exc:
        raise Conflict(
            str(exc) + "; sign again with the nonce the request now shows",
            code="NonceNotNext",
            details={"transaction": req.id, "expected_nonce": exc.expected, "nonce": exc.got},
        ) from exc
    if not stored:
        _must_await_signature(load(rt, session, req.id))
        raise Conflict("the request changed meanwhile; read it again", code="Conflict")
    enqueue(req.id)
    return finish_wait(rt, session, req.id, wait)


def _must_await_signature(req: TxRequest) -> None:
    if req.status == TxStatus.EXPIRED:
        raise Conflict(
            "this request expired unsigned; make the request again",
            code="TransactionRequestExpired",
            details={"transaction": req.id},
        )
    if req.status != TxStatus.AWAITING_SIGNATURE:
        raise Conflict(
            f"this request is {req.status}, not awaiting a signature",
            code="NotAwaitingSignature",
            details={"transaction": req.id, "status": str(req.status)},
        )


def replay(rt: Runtime, session: Session, existing: TxRequest, idem: Idem, wait: bool) -> TxRequest:
    """The request a repeated Idempotency-Key stands for (the same request, or refused)."""
    require_same_request(existing, idem)
    return finish_wait(rt, session, existing.id, wait)


def load(rt: Runtime, session: Session, request_id: str) -> TxRequest:
    """The request as stored now (one left unsigned past its deadline becomes expired)."""
    session.expire_all()
    req = session.get(TxRequest, request_id)
    if req is None:
        raise NotFound(f"no transaction request {request_id}")
    if (
        req.status == TxStatus.AWAITING_SIGNATURE
        and req.expires_at is not None
        and as_utc(req.expires_at) <= datetime.now(UTC)
        and expire_unsigned(rt, request_id)
    ):
        session.expire_all()
        req = session.get(TxRequest, request_id)
        assert req is not None
    return req


def finish_wait(rt: Runtime, session: Session, request_id: str, wait: bool) -> TxRequest:
    """With `wait`, block until mined and visible in the mirror (or failed, or timeout)."""
    req = load(rt, session, request_id)
    if not wait:
        return req
    deadline = time.monotonic() + rt.settings.wait_timeout_seconds
    delay = 0.01
    while req.status not in TxStatus.WAIT_ENDS and time.monotonic() < deadline:
        time.sleep(delay)
        delay = min(delay * 2, 0.2)
        req = load(rt, session, request_id)
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
    if req.status != TxStatus.AWAITING_SIGNATURE:
        out.unsigned_tx = None
    elif req.unsigned_tx is not None:
        out.unsigned_tx = {**req.unsigned_tx, "nonce": provisional_nonce(rt, req)}
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


def _loggable(params: dict[str, Any]) -> dict[str, Any]:
    """A request's parameters as an action log entry holds them: JSON text for anything that is
    not a string, an integer, a boolean or None (the entry's hash covers their text)."""
    plain = (str, int, bool, type(None))
    return {
        k: v if isinstance(v, plain) else json.dumps(v, sort_keys=True) for k, v in params.items()
    }
