"""Request and response bodies of the API (not table classes), with their limits."""

from __future__ import annotations

import unicodedata
from datetime import date, datetime
from typing import Annotated, Any, Literal

from eth_utils.address import is_hex_address, to_checksum_address
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    model_validator,
)

from backend.models import ApprovalDecision, NotificationKind, StaffStatus, TxStatus
from backend.permissions import MAX_APPROVERS, Permission
from chain.addresses import parse_address

MAX_AMOUNT = 2**96  # the contracts store piece amounts as uint96
MAX_TENOR_DAYS = 10 * 365
MAX_BATCH_INVOICES = 500  # one request, one commit: an ERP sends more as several batches


Address = Annotated[
    str,
    AfterValidator(parse_address),
    Field(
        description="0x and 40 hex digits, any case; mixed case must be a correct EIP-55 "
        "checksum. Answers give EIP-55.",
        examples=["0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"],
    ),
]


def _shown(value: str) -> str:
    return to_checksum_address(value) if is_hex_address(value) else value  # "keeper" stays


#: An address in an answer: stored lower-case, shown EIP-55.
AddressOut = Annotated[str, AfterValidator(_shown)]
Amount = Annotated[
    int,
    Field(
        gt=0,
        lt=MAX_AMOUNT,
        description="Integer minor units (fen/cents); below 2^96.",
        examples=[100_000_00],
    ),
]
RateBps = Annotated[int, Field(ge=0, le=100_000, description="Annual rate, basis points.")]
Reason = Annotated[str, Field(min_length=1, max_length=500, examples=["disputed delivery"])]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- auth ----------------------------------------------------------------------------------------


class ChallengeIn(Strict):
    address: Address


class ChallengeOut(BaseModel):
    challenge_id: str
    message: str = Field(description="Sign this exact text (EIP-191 personal_sign).")
    expires_at: datetime


class LoginIn(Strict):
    challenge_id: str = Field(max_length=64)
    signature: str = Field(max_length=200, examples=["0x…"])


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime


class ApiKeyIn(Strict):
    name: str = Field(min_length=1, max_length=100, examples=["erp-connector"])
    expires_at: datetime | None = Field(
        default=None,
        description="When the key stops working (with a time zone); none: until revoked.",
        examples=["2027-06-30T00:00:00Z"],
    )


class ApiKeyCreated(BaseModel):
    id: str
    name: str
    key: str = Field(description="Shown once; only a hash is kept.")
    expires_at: datetime | None


class ActivateIn(Strict):
    code: str = Field(min_length=1, max_length=200, examples=["scfact_…"])


class Activated(ApiKeyCreated):
    """The member's own API key, from its activation code."""

    address: AddressOut


class MePublic(BaseModel):
    address: AddressOut
    roles: list[str]
    credit_limit: int
    credit_used: int
    custodial: bool


# -- transactions --------------------------------------------------------------------------------


class WriteWarning(BaseModel):
    """Something the writer should know about a write that was accepted nonetheless."""

    code: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class TxRequestOut(BaseModel):
    id: str
    action: str
    status: TxStatus
    member: AddressOut
    signer: AddressOut
    tx_hash: str | None = None
    block_number: int | None = None
    error_code: str | None = Field(default=None, description="The contract's error name.")
    error_message: str | None = None
    error_details: dict[str, Any] | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    result: dict[str, Any] | None = None
    created_at: datetime
    updated_at: datetime
    visible_in_mirror: bool = False
    unsigned_tx: dict[str, Any] | None = Field(
        default=None,
        description="awaiting_signature only: the transaction to sign (to, data, value, gas, "
        "nonce, chainId, fee fields), as eth-account's sign_transaction takes it. The nonce is "
        "the signer's next free one after its earlier unsigned requests: sign them in order; it "
        "is fixed only when the signature is accepted (409 NonceNotNext otherwise).",
    )
    expires_at: datetime | None = Field(
        default=None,
        description="awaiting_signature or pending_approval: the request expires then.",
    )
    made_by: str | None = Field(default=None, description="The staff user who made it.")
    approvals_required: int = Field(
        default=0, description="Approvers its member's policy asks for besides the maker."
    )
    warnings: list[WriteWarning] = Field(
        default_factory=list,
        description="Accepted, but worth knowing (e.g. a limit cut below use).",
    )

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "example": {
                "id": "5b0c7a8e-4d7f-4a55-a5b8-2f4b9a7d8e11",
                "action": "root.confirm",
                "status": "mined",
                "member": "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",
                "signer": "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",
                "tx_hash": "0x…",
                "block_number": 42,
                "result": {},
                "created_at": "2026-11-27T10:00:00Z",
                "updated_at": "2026-11-27T10:00:01Z",
                "visible_in_mirror": True,
            }
        },
    )


class SignedTxIn(Strict):
    raw_transaction: str = Field(
        min_length=4,
        max_length=2 * 128 * 1024,
        pattern=r"^0x[0-9a-fA-F]+$",
        description="The signed transaction, 0x-hex (eth-account: `signed.raw_transaction`).",
    )


# -- the ledger ----------------------------------------------------------------------------------


class LedgerOut(BaseModel):
    """The ledger's settings, as its contracts hold them, and its clock."""

    chain_id: int
    paused: bool
    settlement_currency: str = Field(description="ISO 4217; amounts are in its minor unit (fen)")
    ledger_time: int = Field(description="The latest block's timestamp: the contracts' clock.")
    ledger_date: str = Field(description="ledger_time's date (UTC): due dates are judged by it.")
    grace_period_seconds: int = Field(description="After the due date, before it is overdue.")
    grace_period_days: float
    max_depth: int = Field(description="How many times a piece may be split down from its root.")
    min_piece_amount: int = Field(description="The smallest piece (and receivable), minor units.")
    max_live_pieces: int = Field(description="The most live pieces one receivable may have.")
    max_tenor_days: int = Field(description="The latest due date, in days after ledger_date.")
    cash_in_circulation: int = Field(description="Settlement cash issued and not redeemed.")
    registry: AddressOut
    token: AddressOut
    receivables: AddressOut
    changed_at_block: int = Field(description="The block these settings were last changed at.")


# -- operator ------------------------------------------------------------------------------------

RoleName = Literal["OPERATOR", "CORE_ENTERPRISE", "SUPPLIER", "FINANCIER", "REGULATOR", "AUDITOR"]


class ProfileIn(Strict):
    """A member's directory entry, as the operator keeps it."""

    legal_name: str = Field(min_length=1, max_length=200, examples=["上海某某供应链有限公司"])
    short_name: str | None = Field(default=None, min_length=1, max_length=60)
    contact_email: EmailStr | None = Field(default=None, description="Where notifications go.")
    contact_phone: str | None = Field(default=None, min_length=3, max_length=40)


class EntryIn(ProfileIn):
    credit_code: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="Only for a member without an entry: it must hash to the member's "
        "entity id on the ledger.",
    )


class ProfileOut(BaseModel):
    address: AddressOut
    name: str = Field(description="The short name, or the legal name when there is none.")
    legal_name: str
    short_name: str | None
    credit_code: str
    entity_id: str = Field(description="keccak of the credit code: the ledger's entity id.")
    contact_email: str | None
    contact_phone: str | None


class MemberIn(Strict):
    legal_id: str = Field(
        min_length=1,
        max_length=64,
        description="e.g. the unified social credit code",
        examples=["91310000MA1FL0000X"],
    )
    roles: list[RoleName] = Field(min_length=1, examples=[["SUPPLIER"]])
    address: Address | None = Field(
        default=None,
        description="The member's own address; omit to have the server generate "
        "and hold (custodial) a key.",
    )
    credit_limit: int = Field(default=0, ge=0, lt=2**128)
    profile: ProfileIn | None = Field(
        default=None, description="The member's directory entry (names, contact)."
    )


class ActivationOut(BaseModel):
    address: AddressOut
    code: str = Field(
        description="One-time; hand it to the member, which exchanges it at /v1/auth/activate "
        "for its own API key. Shown once; only a hash is kept."
    )
    expires_at: datetime


class MemberCreated(BaseModel):
    address: AddressOut
    custodial: bool
    activation: ActivationOut | None = Field(
        default=None, description="Custodial members only; shown once (not on a replay)."
    )
    transaction: TxRequestOut


class RolesIn(Strict):
    roles: list[RoleName] = Field(min_length=1)


class StatusIn(Strict):
    status: Literal["active", "suspended"]


class CreditLimitIn(Strict):
    credit_limit: int = Field(ge=0, lt=2**128)


class CashIn(Strict):
    account: Address
    amount: Amount


class MemberOut(BaseModel):
    address: AddressOut
    roles: list[str]
    status: str
    entity_id: str
    credit_limit: int
    credit_used: int


# -- invoices and pieces -------------------------------------------------------------------------


class LineItem(Strict):
    description: str = Field(min_length=1, max_length=500)
    quantity: int = Field(gt=0, lt=10**12)
    unit_price: int = Field(ge=0, lt=MAX_AMOUNT)
    amount: int = Field(ge=0, lt=MAX_AMOUNT)


def _invoice_number(number: str) -> str:
    categories = [unicodedata.category(c) for c in number]
    if any(cat in ("Cc", "Cs", "Co", "Cn") for cat in categories):
        raise ValueError("the invoice number holds a control or unassigned character")
    if not any(cat[0] in ("L", "N") for cat in categories):
        raise ValueError("the invoice number holds no letter or digit")
    return number


# -- attachments ---------------------------------------------------------------------------

MAX_ATTACHMENTS = 50  # per invoice: each is a line of the canonical document

#: What an attachment is to the invoice; part of the canonical document.
AttachmentKind = Literal[
    "invoice", "delivery_note", "purchase_contract", "receiving_report", "other"
]
Sha256 = Annotated[
    str,
    Field(
        pattern=r"^[0-9a-fA-F]{64}$",
        description="The file's sha-256, 64 hex digits (answers give lower case)",
        examples=["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"],
    ),
    AfterValidator(str.lower),
]


class AttachmentRef(Strict):
    """A file the caller uploaded (POST /v1/attachments), named by its sha-256."""

    sha256: Sha256
    kind: AttachmentKind


class UploadOut(BaseModel):
    sha256: str
    size: int
    content_type: str = Field(description="As found in the file's bytes, not as declared.")
    file_name: str
    uploaded_at: datetime
    expires_at: datetime = Field(description="Deleted then unless an invoice names it before.")


class AttachmentOut(BaseModel):
    sha256: str
    kind: str
    size: int
    content_type: str
    file_name: str
    covered: bool = Field(
        description="In the canonical document whose keccak is the invoice hash on the ledger; "
        "false: a supplementary file added after registration, off the ledger."
    )
    added_by: AddressOut
    added_at: datetime
    download: str = Field(description="Where to download it (the bytes' sha-256 is checked).")


class InvoiceAttachmentsOut(BaseModel):
    invoice_id: int
    root_id: int | None
    invoice_hash: str
    canonical: str = Field(
        description="The exact text whose keccak is the invoice hash: a downloaded file matches "
        "the ledger if its sha-256 is listed in this text's `attachments` and the text's keccak "
        "is the root's invoice hash."
    )
    attachments: list[AttachmentOut]
    names: dict[str, str] = Field(description="Directory names of the addresses shown.")


class AttachmentIn(Strict):
    """A supplementary file for a registered invoice (off the ledger)."""

    sha256: Sha256
    kind: AttachmentKind


class VerifyMatch(BaseModel):
    invoice_id: int
    root_id: int | None
    number: str
    seller: AddressOut
    buyer: AddressOut
    kind: str
    covered: bool
    listed_in_document: bool = Field(
        description="The file's sha-256 is in the stored canonical document's attachments."
    )
    document_hash: str = Field(description="keccak of the stored canonical document.")
    ledger_invoice_hash: str | None = Field(
        description="The root's invoice hash as the ledger holds it (None: not on the ledger)."
    )
    matches_ledger: bool = Field(
        description="listed in the document, and the document's keccak is the ledger's hash."
    )


class VerifyOut(BaseModel):
    sha256: str
    size: int
    source: Literal["mirror", "chain"]
    matches_ledger: bool = Field(description="At least one match is covered by the ledger.")
    matches: list[VerifyMatch]
    names: dict[str, str]


InvoiceNumber = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        examples=["INV-2026-0001"],
        description="As printed: its key ignores case, width, spaces and separators "
        "(docs/architecture.md, Invoice keys)",
    ),
    AfterValidator(_invoice_number),
]


class InvoiceIn(Strict):
    """The off-chain invoice; canonicalised and hashed, the hash goes on chain."""

    number: InvoiceNumber
    seller: Address
    buyer: Address
    amount: Amount
    currency: str | None = Field(
        default=None,
        pattern=r"^[A-Z]{3}$",
        description="ISO 4217; default, and the only one accepted: the deployment's settlement "
        "currency (SCF_SETTLEMENT_CURRENCY, CNY unless set)",
    )
    issue_date: date
    due_date: date
    line_items: list[LineItem] = Field(default_factory=list, max_length=200)
    attachments: list[AttachmentRef] = Field(
        default_factory=list,
        max_length=MAX_ATTACHMENTS,
        description="Files uploaded first (POST /v1/attachments): their sha-256, kind, size, "
        "type and name go into the canonical document, so the hash on the ledger covers them.",
    )

    @model_validator(mode="after")
    def _sane(self) -> InvoiceIn:
        # the range both dates may take is the ledger's clock's to say (documents.check_dates)
        if self.due_date <= self.issue_date:
            raise ValueError("due_date must be after issue_date")
        if self.issue_date.year < 2000:
            raise ValueError(f"issue_date {self.issue_date} is before the year 2000")
        if self.line_items and sum(i.amount for i in self.line_items) != self.amount:
            raise ValueError("line item amounts must sum to the invoice amount")
        if self.seller == self.buyer:
            raise ValueError("seller and buyer must differ")
        return self


class InvoiceOut(BaseModel):
    id: int
    root_id: int | None
    number: str
    seller: AddressOut
    buyer: AddressOut
    amount: int
    currency: str
    issue_date: str
    due_date: str
    invoice_hash: str
    invoice_key: str
    document: dict[str, Any]
    status: str | None = Field(default=None, description="The root's status on the ledger.")
    tx_request_id: str


class InvoiceCreated(BaseModel):
    invoice: InvoiceOut
    transaction: TxRequestOut


class InvoiceBatchIn(Strict):
    """An ERP's upload: invoices registered together, each its own transaction request."""

    invoices: list[InvoiceIn] = Field(min_length=1, max_length=MAX_BATCH_INVOICES)


class ApiErrorOut(BaseModel):
    """An error as every refusal of the API is written."""

    code: str = Field(examples=["ReceivablesInvoiceKeyUsed"])
    message: str
    details: Any = None


class InvoiceBatchItem(BaseModel):
    """One invoice of a batch, by its position: registered (invoice and transaction request)
    or refused (the error it alone would have met)."""

    index: int
    invoice: InvoiceOut | None = None
    transaction: TxRequestOut | None = None
    error: ApiErrorOut | None = None


class InvoiceBatchOut(BaseModel):
    accepted: int
    refused: int
    results: list[InvoiceBatchItem]


class RejectIn(Strict):
    reason: Reason


class ReasonIn(Strict):
    reason: Reason


class ReclaimKeyIn(Strict):
    number: InvoiceNumber = Field(description="The number of this supplier's own invoice.")


class SplitPart(Strict):
    to: Address
    amount: Amount


class SplitIn(Strict):
    parts: list[SplitPart] = Field(min_length=2, max_length=32)


class TransferIn(Strict):
    to: Address


class RepayIn(Strict):
    amount: Amount | None = Field(default=None, description="Default: everything outstanding.")


class FinancingIn(Strict):
    piece_id: int = Field(gt=0, lt=2**40)
    amount_wanted: Amount
    max_rate_bps: RateBps


class FinancingOut(BaseModel):
    id: int
    piece_id: int
    requester: AddressOut
    amount_wanted: int
    max_rate_bps: int
    status: str
    created_at: datetime
    piece_amount: int | None = None
    due_date: int | None = None
    debtor: AddressOut | None = None
    offer_ids: list[int] = Field(default_factory=list, description="The offers answering it.")


class OfferIn(Strict):
    piece_id: int = Field(gt=0, lt=2**40)
    price: Amount | None = Field(default=None, description="Or give rate_bps to price it.")
    rate_bps: RateBps | None = None
    expires_in_seconds: int = Field(default=7 * 86_400, gt=0, le=366 * 86_400)
    financing_request_id: int | None = Field(
        default=None,
        gt=0,
        lt=2**31,
        description="The open financing request this offer answers; default: the piece's open "
        "request, if it has one.",
    )

    @model_validator(mode="after")
    def _one_price(self) -> OfferIn:
        if (self.price is None) == (self.rate_bps is None):
            raise ValueError("give exactly one of price and rate_bps")
        return self


class QuoteOut(BaseModel):
    piece_id: int
    amount: int
    rate_bps: int
    days: int
    price: int
    discount: int
    due_date: int


class PieceOut(BaseModel):
    piece_id: int
    root_id: int
    parent_id: int | None
    depth: int
    holder: AddressOut
    amount: int
    status: str
    frozen: bool
    paid_out: int
    paid: bool
    debtor: AddressOut | None = None
    due_date: int | None = None


class RootOut(BaseModel):
    root_id: int
    debtor: AddressOut
    supplier: AddressOut
    face_value: int
    due_date: int
    status: str
    frozen: bool
    repaid: int
    distributed: int
    outstanding: int
    invoice_hash: str
    invoice_key: str


class OfferOut(BaseModel):
    offer_id: int
    piece_id: int
    financier: AddressOut
    price: int
    expiry: int
    status: str
    seller: AddressOut | None
    financing_request_id: int | None = Field(
        default=None, description="The financing request this offer answers, if any."
    )


class CreditOut(BaseModel):
    credit_limit: int
    credit_used: int
    available: int
    outstanding_payables: int


class HoldingOut(BaseModel):
    piece: PieceOut
    expected: int = Field(description="Still to be paid to this piece.")
    due_date: int
    root_status: str
    face_amount: int = Field(description="The piece's amount: what it is paid in full.")
    debtor: AddressOut
    paid_out: int = Field(description="Paid to this piece so far (to whoever held it).")
    days_to_maturity: int = Field(description="Whole days from the latest block to the due date.")
    price_paid: int | None = Field(
        None, description="What the holder paid for it, if it bought it (the offer it accepted)."
    )
    offer_id: int | None = None


class Page(BaseModel):
    items: list[Any]
    next_cursor: str | None = None


# -- cash, statements, remittance advice ---------------------------------------------------------


class OfferEscrowOut(BaseModel):
    offer_id: int
    piece_id: int
    price: int
    expiry: int


class RepaidEscrowOut(BaseModel):
    root_id: int
    repaid: int
    paid_out: int
    in_escrow: int = Field(description="Repaid by this debtor and not yet paid out.")


class CashOut(BaseModel):
    member: AddressOut
    block: int = Field(description="The block this answers for (the mirror's by default).")
    balance: int = Field(description="Settlement cash held, in minor units (fen).")
    in_escrow: int = Field(description="Cash in the ledger's escrow on the member's behalf.")
    offers: list[OfferEscrowOut] = Field(description="Its open offers, their prices in escrow.")
    repayments: list[RepaidEscrowOut] = Field(
        description="As a debtor: receivables with repayments not yet paid out."
    )
    total: int = Field(description="balance + in_escrow")


class PeriodOut(BaseModel):
    from_block: int
    to_block: int
    from_date: str | None
    to_date: str | None
    from_time: str | None
    to_time: str | None


class MovementOut(BaseModel):
    block_number: int
    log_index: int
    time: str | None = Field(description="The block's time (UTC, ISO 8601).")
    tx_hash: str
    kind: str = Field(
        description="minted, burned, transfer, offer_escrowed, purchase, offer_refunded, sale, "
        "repayment, payout, claim, remainder"
    )
    reason: str = Field(examples=["payout for piece 3 of receivable 1"])
    counterparty: AddressOut | None
    counterparty_name: str | None = None
    root_id: int | None
    piece_id: int | None
    offer_id: int | None
    amount: int = Field(description="Signed: positive in, negative out.")
    balance: int = Field(description="The running balance after this movement.")


class StatementOut(BaseModel):
    member: AddressOut
    member_name: str | None = None
    currency: str
    period: PeriodOut
    opening_balance: int
    total_in: int
    total_out: int
    closing_balance: int
    count: int
    movements: list[MovementOut]


class CarriedRepaymentOut(BaseModel):
    block_number: int
    tx_hash: str
    repayment: int = Field(description="The repayment's amount.")
    total_repaid: int = Field(description="Repaid on the receivable, this repayment included.")
    carried: int = Field(description="The part of this payout that comes from this repayment.")


class PayoutOut(BaseModel):
    block_number: int
    log_index: int
    time: str | None
    tx_hash: str
    by: Literal["distribution", "claim"]
    root_id: int
    debtor: AddressOut | None
    debtor_name: str | None = None
    piece_id: int
    piece_amount: int
    face_value: int
    share: str = Field(description="The piece's share of the receivable: amount/face value.")
    amount: int
    paid_out: int = Field(description="Paid to the piece so far, this payout included.")
    repayments: list[CarriedRepaymentOut]


class RemittanceOut(BaseModel):
    member: AddressOut
    member_name: str | None = None
    currency: str
    period: PeriodOut
    total: int
    count: int
    payouts: list[PayoutOut]


# -- notifications -------------------------------------------------------------------------------

Kinds = Annotated[
    list[NotificationKind],
    Field(max_length=len(NotificationKind), description="Empty: every kind."),
]


class ChannelStatusOut(BaseModel):
    channel: Literal["webhook", "email"]
    endpoint_id: str | None
    recipient: str
    status: str = Field(description="pending, delivered, failed (gave up) or abandoned.")
    attempts: int
    last_status: int | None = Field(description="The last HTTP status (or SMTP reply code).")
    last_error: str | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None


class NotificationOut(BaseModel):
    id: int
    kind: str
    created_at: datetime
    title: str
    message: str
    data: dict[str, Any]
    tx_hash: str | None
    block_number: int | None
    read: bool
    read_at: datetime | None
    deliveries: list[ChannelStatusOut]


class ReadIn(Strict):
    ids: list[int] | None = Field(
        default=None, max_length=1000, description="These notifications; none: every one."
    )


class ReadOut(BaseModel):
    marked: int


class PreferencesIn(Strict):
    email_enabled: bool = True
    email: EmailStr | None = Field(
        default=None, description="Where e-mail goes; none: the directory's contact e-mail."
    )
    kinds: Kinds = Field(default_factory=list)


class PreferencesOut(BaseModel):
    email_enabled: bool
    email: str | None = Field(description="The address e-mail goes to (yours or the directory's).")
    email_is_directory_contact: bool
    kinds: list[str]


class WebhookIn(Strict):
    url: str = Field(min_length=8, max_length=2000)
    kinds: Kinds = Field(default_factory=list)
    description: str | None = Field(default=None, max_length=200)


class WebhookPatch(Strict):
    url: str | None = Field(default=None, min_length=8, max_length=2000)
    kinds: Kinds | None = None
    description: str | None = Field(default=None, max_length=200)
    enabled: bool | None = Field(
        default=None, description="true enables a disabled endpoint again (its failures reset)."
    )


class WebhookOut(BaseModel):
    id: str
    url: str
    kinds: list[str]
    description: str | None
    enabled: bool
    failures_in_a_row: int
    disabled_at: datetime | None
    disabled_reason: str | None
    created_at: datetime


class WebhookCreatedOut(WebhookOut):
    secret: str = Field(
        description="Signs every delivery (SCF-Signature); shown this once, keep it safe."
    )


class AttemptOut(BaseModel):
    attempted_at: datetime
    status: int | None
    error: str | None
    duration_ms: int


class DeliveryOut(BaseModel):
    id: int
    notification_id: int
    kind: str
    status: str
    attempts: int
    last_status: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime
    history: list[AttemptOut]


# -- staff users and approvals -------------------------------------------------------------------

LOGIN_PATTERN = r"^[a-z0-9][a-z0-9._-]{2,63}$"


class StaffUserIn(Strict):
    login: str = Field(
        pattern=LOGIN_PATTERN,
        description="Lower-case letters, digits, '.', '_' or '-'; unique on the platform.",
        examples=["core.clerk"],
    )
    display_name: str = Field(min_length=1, max_length=100, examples=["Li Wei (AP clerk)"])
    permissions: list[Permission] = Field(examples=[["view", "payables.confirm"]])
    amount_limit: int | None = Field(
        default=None, ge=0, description="Fen: the most one money action of theirs may commit."
    )


class StaffUserPatch(Strict):
    """What an administrator changes (fields left out stay; amount_limit null: no limit)."""

    display_name: str | None = Field(default=None, min_length=1, max_length=100)
    permissions: list[Permission] | None = None
    amount_limit: int | None = Field(default=None, ge=0)
    status: StaffStatus | None = None


class StaffUserOut(BaseModel):
    login: str
    display_name: str
    member: AddressOut
    permissions: list[str]
    amount_limit: int | None
    status: StaffStatus
    must_change_password: bool
    locked_until: datetime | None
    created_at: datetime
    created_by: str | None


class StaffCredentials(StaffUserOut):
    """A new user, or one an administrator reset: its first password and its second factor's
    secret, shown once (neither is readable again)."""

    password: str | None = Field(description="One-time: it must be changed at first login.")
    totp_secret: str | None = Field(description="Base32, for an authenticator app.")
    totp_uri: str | None = Field(description="otpauth:// URI of the same (for a QR code).")


class StaffResetIn(Strict):
    password: bool = True
    totp: bool = False


class StaffLoginIn(Strict):
    login: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    code: str = Field(pattern=r"^[0-9]{6}$", description="The authenticator app's code.")


class StaffTokenOut(TokenOut):
    user: StaffUserOut
    password_change_required: bool


class PasswordChangeIn(Strict):
    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=12, max_length=256)


class PolicyIn(Strict):
    approvers: int = Field(ge=0, le=MAX_APPROVERS, description="Besides the maker.")
    above_amount: int = Field(default=0, ge=0, description="Fen: applies above this amount.")
    approver_permission: Permission | None = Field(
        default=None, description="What approvers must hold; default: the action's own."
    )


class PolicyOut(BaseModel):
    action: str
    approvers: int
    above_amount: int
    approver_permission: str
    default: bool = Field(description="The platform's default (the member set none).")


class ApprovalIn(Strict):
    action_hash: str = Field(
        pattern=r"^[0-9a-f]{64}$",
        description="The action_hash of the pending request as the approver saw it.",
    )


class RejectionIn(Strict):
    reason: str = Field(min_length=1, max_length=500)


class DecisionOut(BaseModel):
    login: str
    decision: ApprovalDecision
    reason: str | None
    at: datetime


class PendingOut(BaseModel):
    """A request under its member's policy, with what an approver needs to decide."""

    request: TxRequestOut
    action_hash: str | None
    amount: int | None
    approvals_required: int
    approver_permission: str
    decisions: list[DecisionOut]
    subject: dict[str, Any] = Field(
        description="What it acts on: the receivable (invoice, supplier, debtor, amounts, "
        "dates, documents), the piece, the offer and its price, the counterparty."
    )
