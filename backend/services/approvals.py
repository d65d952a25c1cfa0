"""Maker-checker: a write its member's policy covers waits, pending approval, until enough
approvers other than its maker approve exactly what it will send (its `action_hash`); then it
joins the queue. A rejection or its expiry ends it unsent. The pipeline checks the approvals
again before it sends (`backend.txn.approvals`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from backend.errors import Conflict, Forbidden, NotFound
from backend.models import (
    ApprovalDecision,
    InvoiceDocument,
    TxApproval,
    TxRequest,
    TxStatus,
    utcnow,
)
from backend.permissions import amount_in, default_policy
from backend.schemas import DecisionOut, PendingOut
from backend.services import action_log, policies
from backend.services.approval_notice import notify_rejected
from backend.services.context import Principal, WriteContext
from backend.services.supplier import invoice_out
from backend.services.tx import finish_wait, load, to_public
from backend.services.views import offer_row, piece_out, piece_row, root_out, root_row
from backend.txn.actions import approval_hash
from backend.txn.queue import enqueue


def expire_lapsed(session: Session, member: str | None = None) -> int:
    """Requests (of `member`, or anyone's) left pending past their deadline end as expired;
    how many. The listings run it for their member, the keeper for everyone."""
    now = datetime.now(UTC)
    lapsed = [
        col(TxRequest.status) == TxStatus.PENDING_APPROVAL,
        col(TxRequest.expires_at) <= now,
    ]
    if member is not None:
        lapsed.append(col(TxRequest.member) == member)
    ended = session.execute(
        update(TxRequest)
        .where(*lapsed)
        .values(
            status=TxStatus.EXPIRED,
            error_code="ApprovalExpired",
            error_message="no approval came before the deadline; nothing was sent",
            updated_at=now,
        )
    )
    session.commit()
    return int(ended.rowcount)  # type: ignore[attr-defined]


def _decisions(session: Session, request_id: str) -> list[TxApproval]:
    return list(
        session.exec(
            select(TxApproval)
            .where(TxApproval.request_id == request_id)
            .order_by(col(TxApproval.id))
        ).all()
    )


def _subject(ctx: WriteContext, req: TxRequest) -> dict[str, Any]:
    """What the approver needs to decide, read from the mirror and the stored documents."""
    rt, mirror, p = ctx.rt, ctx.mirror, req.params
    out: dict[str, Any] = {}
    doc = ctx.session.exec(
        select(InvoiceDocument).where(InvoiceDocument.tx_request_id == req.id)
    ).first()
    piece_id = p.get("piece_id")
    offer = offer_row(mirror, rt, int(p["offer_id"])) if "offer_id" in p else None
    if offer is not None:
        out["offer"] = {
            "offer_id": offer.offer_id,
            "financier": offer.financier,
            "price": int(offer.price),
            "expiry": offer.expiry,
            "status": offer.status,
        }
        piece_id = offer.piece_id
    piece = piece_row(mirror, rt, int(piece_id)) if piece_id is not None else None
    root_id = p.get("root_id", piece.root_id if piece is not None else None)
    root = root_row(mirror, rt, int(root_id)) if root_id is not None else None
    if piece is not None:
        out["piece"] = piece_out(piece, root).model_dump(mode="json")
    if root is not None:
        out["receivable"] = root_out(root).model_dump(mode="json")
        doc = (
            doc
            or ctx.session.exec(
                select(InvoiceDocument).where(InvoiceDocument.root_id == root.root_id)
            ).first()
        )
    if doc is not None:
        out["invoice"] = invoice_out(doc, root).model_dump(mode="json")
    for party in ("to", "supplier", "debtor", "account"):
        if isinstance(p.get(party), str):
            out[party] = p[party]
    return out


def _amount(ctx: WriteContext, req: TxRequest) -> int | None:
    amount = amount_in(req.action, req.params)
    if amount is not None:
        return amount
    if "offer_id" in req.params:
        offer = offer_row(ctx.mirror, ctx.rt, int(req.params["offer_id"]))
        return int(offer.price) if offer is not None else None
    if "root_id" in req.params:
        root = root_row(ctx.mirror, ctx.rt, int(req.params["root_id"]))
        return int(root.face_value) if root is not None else None
    return None


def _pending_out(ctx: WriteContext, req: TxRequest) -> PendingOut:
    policy = policies.effective(ctx.session, req.member, req.action) or default_policy(req.action)
    return PendingOut(
        request=to_public(ctx.rt, req),
        action_hash=req.action_hash,
        amount=_amount(ctx, req),
        approvals_required=req.approvals_required,
        approver_permission=str(policy.approver_permission),
        decisions=[
            DecisionOut(login=d.login, decision=d.decision, reason=d.reason, at=d.at)
            for d in _decisions(ctx.session, req.id)
        ],
        subject=_subject(ctx, req),
    )


def listing(
    *, ctx: WriteContext, me: Principal, status: TxStatus | None, limit: int
) -> list[PendingOut]:
    """The member's requests made under a policy, newest first (by default those pending)."""
    expire_lapsed(ctx.session, me.address)
    stmt = select(TxRequest).where(
        TxRequest.member == me.address, col(TxRequest.approvals_required) > 0
    )
    stmt = stmt.where(TxRequest.status == (status or TxStatus.PENDING_APPROVAL))
    rows = ctx.session.exec(stmt.order_by(col(TxRequest.created_at).desc()).limit(limit)).all()
    return [_pending_out(ctx, r) for r in rows]


def one(*, ctx: WriteContext, me: Principal, request_id: str) -> PendingOut:
    expire_lapsed(ctx.session, me.address)
    return _pending_out(ctx, _own(ctx, me, request_id))


def _own(ctx: WriteContext, me: Principal, request_id: str) -> TxRequest:
    req = load(ctx.rt, ctx.session, request_id)
    if req.member != me.address or req.approvals_required == 0:
        raise NotFound(f"no request {request_id} awaiting this member's approval")
    return req


def _decidable(ctx: WriteContext, me: Principal, request_id: str) -> TxRequest:
    """The pending request, locked for this transaction, and `me` allowed to decide on it."""
    expire_lapsed(ctx.session, me.address)
    own = _own(ctx, me, request_id)
    req = ctx.session.exec(select(TxRequest).where(TxRequest.id == own.id).with_for_update()).one()
    if req.status == TxStatus.EXPIRED:
        raise Conflict(
            "this request expired before it was approved; make it again",
            code="ApprovalExpired",
            details={"transaction": req.id},
        )
    if req.status != TxStatus.PENDING_APPROVAL:
        raise Conflict(
            f"this request is {req.status}, not pending approval",
            code="NotPendingApproval",
            details={"transaction": req.id, "status": str(req.status)},
        )
    if me.user is None:
        raise Forbidden(
            "approvals are given by a named staff user, not by the member's own key",
            code="StaffUserRequired",
        )
    return req


def approve(*, ctx: WriteContext, me: Principal, request_id: str, action_hash: str) -> PendingOut:
    """Approve exactly what the approver saw (`action_hash`); the last approval the policy asks
    for puts the request in the queue."""
    session = ctx.session
    req = _decidable(ctx, me, request_id)
    assert me.user is not None
    if req.maker_id == me.user.id:
        raise Forbidden(
            "the maker of an action cannot approve it: another person must",
            code="MakerCannotApprove",
            details={"transaction": req.id, "maker": req.made_by},
        )
    policy = policies.effective(session, req.member, req.action) or default_policy(req.action)
    me.require(policy.approver_permission, amount=_amount(ctx, req))
    stored = approval_hash(req)
    if stored != req.action_hash:
        raise Conflict(
            "the stored action no longer matches what its maker made: it cannot be approved",
            code="ActionTampered",
            details={"transaction": req.id},
        )
    if action_hash != req.action_hash:
        raise Conflict(
            "the action changed since you saw it: read it again before approving",
            code="ActionChanged",
            details={"transaction": req.id, "action_hash": req.action_hash},
        )
    _decide(ctx, me, req, ApprovalDecision.APPROVED, reason=None)
    approvals = [
        d
        for d in _decisions(session, req.id)
        if d.decision == ApprovalDecision.APPROVED and d.action_hash == stored
    ]
    if len(approvals) >= req.approvals_required:
        req.status, req.updated_at = TxStatus.QUEUED, utcnow()
        session.add(req)
    session.commit()
    if req.status == TxStatus.QUEUED:
        enqueue(req.id, batched=True)
        req = finish_wait(ctx.rt, session, req.id, ctx.wait)
    return _pending_out(ctx, req)


def reject(*, ctx: WriteContext, me: Principal, request_id: str, reason: str) -> PendingOut:
    """Turn the request down (its maker may withdraw it this way): it ends unsent."""
    req = _decidable(ctx, me, request_id)
    assert me.user is not None
    if req.maker_id != me.user.id:
        policy = policies.effective(ctx.session, req.member, req.action)
        me.require((policy or default_policy(req.action)).approver_permission)
    _decide(ctx, me, req, ApprovalDecision.REJECTED, reason=reason)
    req.status, req.updated_at = TxStatus.REJECTED, utcnow()
    req.error_code, req.error_message = "ApprovalRejected", f"rejected by {me.user.login}: {reason}"
    ctx.session.add(req)
    notify_rejected(ctx, req, by=f"{me.user.display_name} ({me.user.login})", reason=reason)
    ctx.session.commit()
    return _pending_out(ctx, req)


def _decide(
    ctx: WriteContext, me: Principal, req: TxRequest, decision: ApprovalDecision, reason: str | None
) -> None:
    assert me.user is not None
    session = ctx.session
    session.add(
        TxApproval(
            request_id=req.id,
            user_id=me.user.id,
            login=me.user.login,
            decision=decision,
            action_hash=req.action_hash or "",
            reason=reason,
        )
    )
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Conflict(
            f"{me.user.login} has already decided on this request",
            code="AlreadyDecided",
            details={"transaction": req.id},
        ) from None
    action_log.record(
        session,
        member=me.address,
        user=me.login,
        action=f"approval.{'approve' if decision == ApprovalDecision.APPROVED else 'reject'}",
        result=action_log.OK,
        source_ip=me.source_ip,
        target=req.id,
        details={"action": req.action, "action_hash": req.action_hash, "reason": reason},
    )
