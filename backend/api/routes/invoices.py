"""/v1 invoices: registration (one or a batch), reclaiming an invoice key, and the invoices a
member sold or bought."""

from __future__ import annotations

from fastapi import APIRouter, status

from backend.api.deps import (
    CurrentMember,
    MirrorDep,
    RuntimeDep,
    ServiceReplayWriteDep,
    SessionDep,
    Supplier,
    WriteDep,
    may_do,
)
from backend.api.errors import ERROR_RESPONSES
from backend.api.params import Accepted, After, Limit, RowId, accepted
from backend.schemas import (
    InvoiceBatchIn,
    InvoiceBatchOut,
    InvoiceCreated,
    InvoiceIn,
    InvoiceOut,
    ReclaimKeyIn,
    TxRequestOut,
)
from backend.services import invoicing, supplier

router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)
ACCEPTED = status.HTTP_202_ACCEPTED


@router.post(
    "/invoices",
    response_model=InvoiceCreated,
    status_code=ACCEPTED,
    tags=["supplier"],
    dependencies=[may_do("root.register")],
)
def register_invoice(
    body: InvoiceIn,
    me: Supplier,
    ctx: ServiceReplayWriteDep,
) -> Accepted:
    """Store the invoice document, and register its hash and invoice key on the ledger for the
    buyer (a core enterprise) to confirm."""
    doc, req = invoicing.originate(ctx=ctx, me=me, body=body, issue=False)
    return Accepted(supplier.created(ctx, doc, req))


@router.post(
    "/invoices/batch",
    response_model=InvoiceBatchOut,
    status_code=ACCEPTED,
    tags=["supplier"],
    dependencies=[may_do("root.register")],
)
def register_invoices(body: InvoiceBatchIn, me: Supplier, ctx: ServiceReplayWriteDep) -> Accepted:
    """Register many invoices in one request (an ERP's upload), each as `POST /v1/invoices`
    would: every invoice gets its own transaction request, or the refusal it alone would get,
    by its position in `results`; one refused invoice does not stop the others. A malformed
    invoice fails the whole request (422). With an `Idempotency-Key` K, invoice i is keyed
    `K/i`: sending the same batch again sends nothing twice."""
    return Accepted(invoicing.register_batch(ctx=ctx, me=me, bodies=body.invoices))


@router.post(
    "/invoices/reclaim-key",
    response_model=TxRequestOut,
    status_code=ACCEPTED,
    tags=["supplier"],
    dependencies=[may_do("root.reclaim_key")],
)
def reclaim_invoice_key(body: ReclaimKeyIn, me: Supplier, ctx: WriteDep) -> Accepted:
    """Take back this supplier's invoice number from a receivable another supplier registered
    on the ledger under it: a registration not yet confirmed is voided, a confirmed one keeps
    its state but no longer holds the key (the regulator is told); then the genuine invoice can
    be registered. 404 InvoiceKeyFree when no receivable holds it."""
    return accepted(ctx.rt, invoicing.reclaim_key(ctx=ctx, me=me, number=body.number))


@router.get("/invoices", response_model=list[InvoiceOut], tags=["supplier"])
def list_invoices(
    me: CurrentMember,
    rt: RuntimeDep,
    session: SessionDep,
    mirror: MirrorDep,
    limit: Limit = 100,
    after: After = 0,
) -> list[InvoiceOut]:
    """Invoices this member sold or bought (auditors and regulators: all)."""
    return supplier.list_invoices(
        rt=rt, session=session, mirror=mirror, me=me, limit=limit, after=after
    )


@router.get("/invoices/{invoice_id}", response_model=InvoiceOut, tags=["supplier"])
def get_invoice(
    invoice_id: RowId, me: CurrentMember, rt: RuntimeDep, session: SessionDep, mirror: MirrorDep
) -> InvoiceOut:
    return supplier.get_invoice(rt=rt, session=session, mirror=mirror, me=me, invoice_id=invoice_id)
