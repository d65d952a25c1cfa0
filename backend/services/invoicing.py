"""Receivables from invoices: one invoice at a time, or an ERP's batch in one request."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from backend.errors import Conflict, DomainError, Forbidden, InvalidInput, jsonable, refusal
from backend.models import InvoiceDocument, TxRequest
from backend.schemas import (
    ApiErrorOut,
    InvoiceBatchItem,
    InvoiceBatchOut,
    InvoiceCreated,
    InvoiceIn,
)
from backend.services import checks
from backend.services.context import Principal, WriteContext, by_key, require_same_request
from backend.services.documents import canonical_document, check_dates, document_hash, invoice_key
from backend.services.supplier import created, invoice_out
from backend.services.tx import finish_wait, replay, respond, submit
from backend.txn.actions import new_request
from backend.txn.queue import enqueue
from backend.txn.signed import prepare_unsigned
from chain.enums import Role, RootStatus
from indexer.models import Member, Root

#: A root in these states holds its invoice key: the ledger refuses the key again.
LIVE_KEY_STATUSES = (
    RootStatus.REGISTERED,
    RootStatus.CONFIRMED,
    RootStatus.OVERDUE,
    RootStatus.SETTLED,
    RootStatus.CLOSED,
)


class Origination:
    """The checks an invoice passes before it goes to the ledger, each refused as the contract
    would refuse it. What a batch's invoices share is read once: the ledger's settings, each
    counterparty, the invoice keys already taken."""

    def __init__(self, ctx: WriteContext, me: Principal, *, issue: bool) -> None:
        self.ctx, self.me, self.issue = ctx, me, issue
        self.status = checks.not_paused(ctx.mirror, ctx.rt)
        self._members: dict[tuple[str, Role], Member | DomainError] = {}
        self._taken: dict[str, int] | None = None  # prefetched: invoice key -> its live root

    def prefetch_taken(self, keys: list[str]) -> None:
        """Read which of `keys` the ledger already holds, in one query."""
        rows = self.ctx.mirror.exec(
            select(Root.invoice_key, Root.root_id).where(
                Root.chain_id == self.ctx.rt.chain_id,
                col(Root.invoice_key).in_(keys),
                col(Root.status).in_([int(s) for s in LIVE_KEY_STATUSES]),
            )
        ).all()
        self._taken = {str(key): int(root_id) for key, root_id in rows}

    def key_of(self, body: InvoiceIn) -> str:
        """The invoice key (the seller's entity and the invoice number) of a registration."""
        assert not self.issue, "an issued payable's seller is another member"
        return invoice_key(self.me.entity_id, body.number)

    def check(self, body: InvoiceIn) -> tuple[dict[str, Any], InvoiceDocument]:
        """The call's parameters and the document to store, or the refusal (DomainError)."""
        ctx, me, issue = self.ctx, self.me, self.issue
        ours = body.buyer if issue else body.seller
        if ours.lower() != me.address:
            side = "buyer" if issue else "seller"
            raise Forbidden(f"you must be the invoice's {side}", code="NotInvoiceParty")
        # `me` is one party, already known active with its role (the route's dependency)
        if issue:
            seller_entity = self._active(body.seller, Role.SUPPLIER).entity_id
        else:
            self._active(body.buyer, Role.CORE_ENTERPRISE)
            seller_entity = me.entity_id
        body = settled_currency(body, ctx.rt.settings.settlement_currency)
        doc, canonical = canonical_document(body)
        if len(canonical.encode()) > ctx.rt.settings.max_document_bytes:
            raise InvalidInput(
                "invoice document too large",
                code="DocumentTooLarge",
                details={"max_bytes": ctx.rt.settings.max_document_bytes},
            )
        key = invoice_key(seller_entity, body.number)
        taken = self._taken_root(key)
        if taken is not None:
            raise refusal(
                "ReceivablesInvoiceKeyUsed",
                invoiceKey=key,
                rootId=taken,
            )
        status = self.status
        if status is not None and body.amount < int(status.min_piece_amount):
            raise refusal(
                "ReceivablesAmountTooSmall",
                amount=body.amount,
                minimum=int(status.min_piece_amount),
            )
        due = check_dates(body, ctx.rt.chain_time_floor())
        if issue:
            checks.within_credit(me, body.amount)
        hash_ = document_hash(canonical)
        params = {
            "supplier" if issue else "debtor": body.seller if issue else body.buyer,
            "face_value": body.amount,
            "due_date": due,
            "invoice_hash": hash_,
            "invoice_key": key,
        }
        document = InvoiceDocument(
            seller=body.seller.lower(),
            buyer=body.buyer.lower(),
            number=body.number,
            currency=doc["currency"],
            amount=body.amount,
            issue_date=body.issue_date.isoformat(),
            due_date=body.due_date.isoformat(),
            document=doc,
            invoice_hash=hash_,
            invoice_key=key,
            canonical=canonical,
            tx_request_id="",
        )
        return params, document

    def _active(self, address: str, role: Role) -> Member:
        found = self._members.get((address, role))
        if found is None:
            try:
                found = checks.active_with_role(self.ctx.mirror, self.ctx.rt, address, role)
            except DomainError as exc:
                found = exc
            self._members[(address, role)] = found
        if isinstance(found, DomainError):
            raise found
        return found

    def _taken_root(self, key: str) -> int | None:
        if self._taken is not None:
            return self._taken.get(key)
        root = self.ctx.mirror.exec(
            _TAKEN_ROOT, params={"chain_id": self.ctx.rt.chain_id, "key": key}
        ).first()
        return None if root is None else int(root)


_TAKEN_ROOT = select(Root.root_id).where(
    Root.chain_id == bindparam("chain_id"),
    Root.invoice_key == bindparam("key"),
    col(Root.status).in_([int(s) for s in LIVE_KEY_STATUSES]),
)


def settled_currency(body: InvoiceIn, settlement: str) -> InvoiceIn:
    """The invoice in the ledger's settlement currency (its default); one in another currency
    is refused: the ledger's cash is that currency's minor units, and nothing converts."""
    if body.currency is None:
        return body.model_copy(update={"currency": settlement})
    if body.currency != settlement:
        raise InvalidInput(
            f"this ledger settles in {settlement} only; the invoice is in {body.currency}",
            code="CurrencyNotSettled",
            details={"currency": body.currency, "settlement_currency": settlement},
        )
    return body


def originate(
    *, ctx: WriteContext, me: Principal, body: InvoiceIn, issue: bool
) -> tuple[InvoiceDocument, TxRequest]:
    """Register an invoice (supplier) or issue a payable directly (debtor)."""
    try:
        params, document = Origination(ctx, me, issue=issue).check(body)
    except DomainError:
        # A retry whose first attempt went through is refused by the checks (its invoice key
        # is taken): answer it as first answered. Looked up only here: a retry that passes the
        # checks meets the key's unique constraint in `submit`, which replays it too.
        if ctx.idem is not None and (prior := by_key(ctx.session, me.address, ctx.idem.key)):
            req = replay(ctx.rt, ctx.session, prior, ctx.idem, ctx.wait)
            found = _document_of(ctx, req.id)
            if found is not None:
                return found, req
        raise

    def attach(req: TxRequest) -> InvoiceDocument:
        document.tx_request_id = req.id
        return document

    req = submit(
        ctx=ctx,
        member=me,
        action="root.issue" if issue else "root.register",
        params=params,
        with_request=attach,
    )
    if document.tx_request_id == req.id:
        return document, req
    # a concurrent first use of the Idempotency-Key won: its document, not this one
    return (_document_of(ctx, req.id) or document), req


def _document_of(ctx: WriteContext, request_id: str) -> InvoiceDocument | None:
    return ctx.session.exec(
        select(InvoiceDocument).where(InvoiceDocument.tx_request_id == request_id)
    ).first()


def register_batch(*, ctx: WriteContext, me: Principal, bodies: list[InvoiceIn]) -> InvoiceBatchOut:
    """Register many invoices in one request, each its own transaction request.

    Each invoice passes or fails the same checks as alone, and a refused one does not stop the
    others; the accepted ones are stored in one commit (all or none) and handed to the workers
    with one message. With an Idempotency-Key K, invoice i's request is keyed "K/i": a retry
    of the batch answers the accepted ones as first answered and sends nothing twice."""
    rt, session = ctx.rt, ctx.session
    keys: list[str | None] = (
        [f"{ctx.idem.key}/{i}" for i in range(len(bodies))] if ctx.idem else [None] * len(bodies)
    )
    prior: dict[str, TxRequest] = {}
    if ctx.idem is not None:
        for req in session.exec(
            select(TxRequest).where(
                TxRequest.member == me.address, col(TxRequest.idempotency_key).in_(keys)
            )
        ).all():
            require_same_request(req, ctx.idem)
            prior[str(req.idempotency_key)] = req
    fresh = [i for i, k in enumerate(keys) if k is None or k not in prior]
    origination = Origination(ctx, me, issue=False) if fresh else None
    if origination is not None:
        origination.prefetch_taken([origination.key_of(bodies[i]) for i in fresh])

    results: dict[int, InvoiceBatchItem] = {}
    new: list[tuple[int, TxRequest, InvoiceDocument]] = []
    first_of_key: dict[str, int] = {}
    custodial = rt.has_key(me.address)
    for i in fresh:
        assert origination is not None
        try:
            params, document = origination.check(bodies[i])
            dup = first_of_key.setdefault(document.invoice_key, i)
            if dup != i:
                raise Conflict(
                    f"the same invoice is item {dup} of this batch",
                    code="ReceivablesInvoiceKeyUsed",
                    details={"invoiceKey": document.invoice_key, "index": dup},
                )
        except DomainError as exc:
            results[i] = _refused(i, exc)
            continue
        req = new_request(
            member=me.address,
            signer=me.address,
            action="root.register",
            params=params,
            idempotency_key=keys[i],
            request_hash=ctx.idem.request_hash if ctx.idem else None,
        )
        if not custodial:
            prepare_unsigned(rt, req)  # the member signs each one
        document.tx_request_id = req.id
        new.append((i, req, document))
    if new:
        session.add_all([req for _, req, _ in new])
        session.add_all([doc for _, _, doc in new])
        try:
            session.commit()
        except IntegrityError as exc:
            session.rollback()
            raise Conflict(
                "another request with this Idempotency-Key is being stored; send it again",
                code="IdempotencyKeyInUse",
            ) from exc
        if custodial:
            enqueue(new[0][1].id, batched=True)  # the dispatcher takes every queued request

    for i, req, document in new:
        if ctx.wait or rt.settings.eager:
            results[i] = _answer(ctx, i, document, finish_wait(rt, session, req.id, ctx.wait))
        else:  # queued, as committed
            results[i] = _answer(ctx, i, document, req, fresh=True)
    for i, k in enumerate(keys):
        if k is not None and k in prior:
            req = finish_wait(rt, session, prior[k].id, ctx.wait)
            stored = _document_of(ctx, req.id)  # the same request hash: stored by this batch
            assert stored is not None, "a batch stores each request with its document"
            results[i] = _answer(ctx, i, stored, req)
    ordered = [results[i] for i in range(len(bodies))]
    accepted = sum(1 for r in ordered if r.error is None)
    return InvoiceBatchOut(accepted=accepted, refused=len(ordered) - accepted, results=ordered)


def _answer(
    ctx: WriteContext, index: int, document: InvoiceDocument, req: TxRequest, *, fresh: bool = False
) -> InvoiceBatchItem:
    try:
        if fresh:  # not mined yet: no root to read
            made = InvoiceCreated(
                invoice=invoice_out(document, None), transaction=respond(ctx.rt, req)
            )
        else:
            made = created(ctx, document, req)
    except DomainError as exc:  # refused by the chain (a member-signed request's estimate)
        return _refused(index, exc)
    return InvoiceBatchItem(index=index, invoice=made.invoice, transaction=made.transaction)


def _refused(index: int, exc: DomainError) -> InvoiceBatchItem:
    return InvoiceBatchItem(
        index=index,
        error=ApiErrorOut(code=exc.code, message=exc.message, details=jsonable(exc.details)),
    )
