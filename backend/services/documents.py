"""Invoice documents: canonical form, hash, invoice key."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time
from typing import Any

from eth_utils.crypto import keccak

from backend.schemas import InvoiceIn


def canonical_document(invoice: InvoiceIn) -> tuple[dict[str, Any], str]:
    """The document as stored and its canonical text: sorted keys, no spaces, UTF-8, integer
    amounts, ISO dates, lower-case addresses."""
    doc: dict[str, Any] = {
        "number": invoice.number,
        "seller": invoice.seller.lower(),
        "buyer": invoice.buyer.lower(),
        "amount": invoice.amount,
        "currency": invoice.currency,
        "issue_date": invoice.issue_date.isoformat(),
        "due_date": invoice.due_date.isoformat(),
        "line_items": [item.model_dump() for item in invoice.line_items],
    }
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return doc, text


def document_hash(canonical: str) -> str:
    return "0x" + keccak(canonical.encode("utf-8")).hex()


def invoice_key(seller_entity_id: str, number: str) -> str:
    """keccak(seller entity id (32 bytes) ‖ invoice number): one registration per invoice."""
    entity = bytes.fromhex(seller_entity_id.removeprefix("0x"))
    return "0x" + keccak(entity + number.encode("utf-8")).hex()


def due_timestamp(invoice: InvoiceIn) -> int:
    """The due date as the ledger holds it: midnight UTC at the start of the due date."""
    return int(datetime.combine(invoice.due_date, time(0, 0), tzinfo=UTC).timestamp())
