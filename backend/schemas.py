"""Request and response bodies of the API (not table classes), with their limits."""

from __future__ import annotations

import unicodedata
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from eth_utils.address import is_hex_address, to_checksum_address
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    field_validator,
    model_validator,
)

from backend.models import NotificationKind, TxStatus
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


class MePublic(BaseModel):
    address: AddressOut
    roles: list[str]
    credit_limit: int
    credit_used: int
    custodial: bool


# -- transactions --------------------------------------------------------------------------------


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
        default=None, description="awaiting_signature only: the request expires unsigned then."
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


class MemberCreated(BaseModel):
    address: AddressOut
    custodial: bool
    api_key: str | None = Field(default=None, description="Custodial members only; shown once.")
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


class InvoiceIn(Strict):
    """The off-chain invoice; canonicalised and hashed, the hash goes on chain."""

    number: str = Field(
        min_length=1,
        max_length=64,
        examples=["INV-2026-0001"],
        description="As printed: its key ignores case, width, spaces and separators "
        "(docs/architecture.md, Invoice keys)",
    )
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

    @field_validator("number")
    @classmethod
    def _number(cls, number: str) -> str:
        categories = [unicodedata.category(c) for c in number]
        if any(cat in ("Cc", "Cs", "Co", "Cn") for cat in categories):
            raise ValueError("the invoice number holds a control or unassigned character")
        if not any(cat[0] in ("L", "N") for cat in categories):
            raise ValueError("the invoice number holds no letter or digit")
        return number

    @model_validator(mode="after")
    def _sane(self) -> InvoiceIn:
        today = datetime.now(UTC).date()
        if self.due_date <= self.issue_date:
            raise ValueError("due_date must be after issue_date")
        if self.issue_date.year < 2000 or (self.issue_date - today).days > 31:
            raise ValueError("issue_date is implausible")
        if (self.due_date - today).days > MAX_TENOR_DAYS:
            raise ValueError("due_date is more than 10 years away (the ledger refuses it)")
        if self.due_date <= today:
            raise ValueError("due_date must be in the future")
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


class OfferIn(Strict):
    piece_id: int = Field(gt=0, lt=2**40)
    price: Amount | None = Field(default=None, description="Or give rate_bps to price it.")
    rate_bps: RateBps | None = None
    expires_in_seconds: int = Field(default=7 * 86_400, gt=0, le=366 * 86_400)

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


class Page(BaseModel):
    items: list[Any]
    next_cursor: str | None = None


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
