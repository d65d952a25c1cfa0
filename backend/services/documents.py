"""Invoice documents: canonical form, hash, invoice key."""

from __future__ import annotations

import json
import unicodedata
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from eth_utils.crypto import keccak

from backend.errors import InvalidInput
from backend.schemas import MAX_TENOR_DAYS, InvoiceIn

#: How far past the ledger's date an issue date may lie (a clock skew, not a forward date).
MAX_ISSUE_DAYS_AHEAD = 31


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


#: The Unicode general categories an invoice number's key keeps: letters, numbers, marks.
KEY_CATEGORIES = ("L", "N", "M")


def invoice_number_key(number: str) -> str:
    """The form of an invoice number its key is computed over, so that one invoice written two
    ways is one key: NFKC (a full-width INV-001, U+FF29…, is INV-001), case-folded, and only its
    letters, digits and combining marks kept: every space, hyphen or dash, slash, dot,
    underscore, colon, bracket, symbol or invisible character is dropped. The rule, and why,
    is in docs/architecture.md ("Invoice keys")."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", number).casefold())
    kept = "".join(c for c in folded if unicodedata.category(c)[0] in KEY_CATEGORIES)
    # dropping a separator can leave characters that compose (a Hangul jamo pair): compose them
    return unicodedata.normalize("NFKC", kept)


def invoice_key(seller_entity_id: str, number: str) -> str:
    """keccak(seller entity id (32 bytes) ‖ UTF-8 of `invoice_number_key(number)`): one
    registration per invoice, however its number is written."""
    entity = bytes.fromhex(seller_entity_id.removeprefix("0x"))
    return "0x" + keccak(entity + invoice_number_key(number).encode("utf-8")).hex()


def due_timestamp(invoice: InvoiceIn) -> int:
    """The due date as the ledger holds it: midnight UTC at the start of the due date."""
    return int(datetime.combine(invoice.due_date, time(0, 0), tzinfo=UTC).timestamp())


def ledger_date(ledger_now: int) -> date:
    return datetime.fromtimestamp(ledger_now, UTC).date()


def check_dates(invoice: InvoiceIn, ledger_now: int) -> int:
    """The due timestamp, or the refusal that names the allowed range. Judged by the ledger's
    clock (the latest block's time), which the contracts judge by, not by the server's: the
    ledger requires `now < due <= now + 10 years`."""
    today = ledger_date(ledger_now)
    first_due = today + timedelta(days=1)
    last_due = ledger_date(ledger_now + MAX_TENOR_DAYS * 86_400)
    last_issue = today + timedelta(days=MAX_ISSUE_DAYS_AHEAD)
    shown = {"ledger_date": today.isoformat()}
    if invoice.issue_date > last_issue:
        raise InvalidInput(
            f"issue_date {invoice.issue_date} is more than {MAX_ISSUE_DAYS_AHEAD} days after the "
            f"ledger's date {today}: it must be on or before {last_issue}",
            code="IssueDateOutOfRange",
            details={
                **shown,
                "issue_date": invoice.issue_date.isoformat(),
                "latest": last_issue.isoformat(),
            },
        )
    if not first_due <= invoice.due_date <= last_due:
        raise InvalidInput(
            f"due_date {invoice.due_date} must be from {first_due} to {last_due}: after the "
            f"ledger's date {today} and at most 10 years later",
            code="DueDateOutOfRange",
            details={
                **shown,
                "due_date": invoice.due_date.isoformat(),
                "earliest": first_due.isoformat(),
                "latest": last_due.isoformat(),
            },
        )
    return due_timestamp(invoice)
