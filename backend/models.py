"""The backend's own tables: credentials, custody, invoice documents, financing requests and
transaction requests. The mirror tables belong to the indexer and are only read here."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum, nonmember
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Index,
    LargeBinary,
    MetaData,
    String,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from indexer.types import Uint256

JSONType = JSON().with_variant(JSONB(), "postgresql")

#: The backend's tables live in their own metadata, apart from the indexer's mirror.
backend_metadata = MetaData()


class BackendTable(SQLModel, registry=registry(metadata=backend_metadata)):
    """Base of every backend table class."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """A stored timestamp, aware: SQLite hands them back naive; they are stored in UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _ts(**kw: Any) -> Any:
    return Field(default_factory=utcnow, sa_type=DateTime(timezone=True), **kw)


def _ts_opt() -> Any:
    return Field(default=None, sa_type=DateTime(timezone=True))


# -- identity ----------------------------------------------------------------------------------


class LoginChallenge(BackendTable, table=True):
    """A single-use, short-lived message a member signs to log in."""

    __tablename__ = "login_challenge"

    id: str = Field(primary_key=True)
    address: str = Field(index=True)
    message: str
    expires_at: datetime = Field(sa_type=DateTime(timezone=True), index=True)
    used_at: datetime | None = _ts_opt()


class ApiKeyBase(SQLModel):
    id: str = Field(primary_key=True)
    address: str = Field(index=True)
    name: str
    created_at: datetime = _ts()
    revoked_at: datetime | None = _ts_opt()
    last_used_at: datetime | None = _ts_opt()
    expires_at: datetime | None = _ts_opt()


class ApiKey(ApiKeyBase, BackendTable, table=True):
    """A machine client's credential; only a hash of its secret is kept. A key made by a staff
    user is that user's (`user_id`) and may do only what the user may; one made by the member's
    own login (its signed challenge) or its activation code acts as the member."""

    __tablename__ = "api_key"

    secret_hash: str
    user_id: str | None = Field(default=None, index=True)


class ApiKeyPublic(ApiKeyBase):
    pass


class RevokedToken(BackendTable, table=True):
    """A bearer token logged out before its expiry (by its `jti`); purged once it expires."""

    __tablename__ = "revoked_token"

    jti: str = Field(primary_key=True)
    expires_at: datetime = Field(sa_type=DateTime(timezone=True), index=True)


class CustodyKey(BackendTable, table=True):
    """A custodial member's private key, AES-GCM encrypted under the master key."""

    __tablename__ = "custody_key"

    address: str = Field(primary_key=True)
    nonce: bytes = Field(sa_type=LargeBinary)
    ciphertext: bytes = Field(sa_type=LargeBinary)
    created_at: datetime = _ts()


# -- activation --------------------------------------------------------------------------------


class ActivationCode(BackendTable, table=True):
    """A one-time code the operator hands a custodial member at onboarding (or re-issues),
    which the member exchanges once for its own API key: the operator never sees a working
    credential of another member. Only a hash of the code's secret is kept."""

    __tablename__ = "activation_code"

    id: str = Field(primary_key=True)
    address: str = Field(index=True)
    secret_hash: str
    issued_by: str = Field(description="The operator that issued it.")
    created_at: datetime = _ts()
    expires_at: datetime = Field(sa_type=DateTime(timezone=True))
    used_at: datetime | None = _ts_opt()
    replaced_at: datetime | None = Field(
        default=None,
        sa_type=DateTime(timezone=True),
        description="A newer code for the same member was issued; this one no longer works.",
    )
    api_key_id: str | None = Field(default=None, description="The key its use gave.")


# -- the member directory ----------------------------------------------------------------------


class MemberProfile(BackendTable, table=True):
    """Who a member is, off the ledger: kept by the operator. keccak(credit_code) is the
    member's entity id on the ledger."""

    __tablename__ = "member_profile"

    address: str = Field(primary_key=True)  # lower-case, like the mirror's
    legal_name: str
    short_name: str | None = None
    credit_code: str = Field(index=True)  # the unified social credit code (统一社会信用代码)
    contact_email: str | None = None
    contact_phone: str | None = None
    updated_at: datetime = _ts()


# -- staff users and approvals ------------------------------------------------------------------


class StaffStatus(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"


class StaffUser(BackendTable, table=True):
    """A person acting for a member: a login name, a password (Argon2id), a TOTP second factor
    (its secret sealed under the master key), a permission set and, for money, a limit."""

    __tablename__ = "staff_user"

    id: str = Field(primary_key=True)
    member: str = Field(index=True)  # lower-case address
    login: str = Field(unique=True)  # lower-case, unique across the platform
    display_name: str
    permissions: list[str] = Field(sa_type=JSONType)
    amount_limit: int | None = Field(default=None, sa_type=BigInteger)  # fen; None: no limit
    status: StaffStatus = Field(default=StaffStatus.ACTIVE, sa_type=String(16))
    password_hash: str
    must_change_password: bool = True
    totp_nonce: bytes = Field(sa_type=LargeBinary)
    totp_ciphertext: bytes = Field(sa_type=LargeBinary)
    totp_last_step: int | None = Field(default=None, sa_type=BigInteger)  # no code used twice
    failed_logins: int = 0
    locked_until: datetime | None = _ts_opt()
    created_at: datetime = _ts()
    created_by: str | None = None  # the login name of the admin who made it; None: the operator
    updated_at: datetime = _ts()


class ApprovalPolicy(BackendTable, table=True):
    """A member's rule for one action: how many approvers besides the maker, above which amount,
    holding which permission. An action with no row takes the default
    (`backend.permissions.DEFAULT_POLICIES`)."""

    __tablename__ = "approval_policy"

    member: str = Field(primary_key=True)
    action: str = Field(primary_key=True)
    approvers: int
    above_amount: int = Field(default=0, sa_type=BigInteger)  # fen; policy applies above it
    approver_permission: str
    updated_by: str | None = None
    updated_at: datetime = _ts()


class ApprovalDecision(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"


class TxApproval(BackendTable, table=True):
    """One staff user's decision on a pending request: it covers the action's canonical hash
    (`backend.txn.actions.approval_hash`), so a changed action is covered by no approval."""

    __tablename__ = "tx_approval"
    __table_args__ = (UniqueConstraint("request_id", "user_id", name="uq_tx_approval_user"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(index=True)
    user_id: str
    login: str
    decision: ApprovalDecision = Field(sa_type=String(16))
    action_hash: str
    reason: str | None = None
    at: datetime = _ts()


# -- the off-chain action log (tamper-evident) ----------------------------------------------


class ActionLogEntryBase(SQLModel):
    seq: int = Field(
        primary_key=True, sa_type=BigInteger, sa_column_kwargs={"autoincrement": False}
    )
    at: datetime = _ts(index=True)
    member: str | None = Field(default=None, index=True)  # lower-case address
    user: str | None = Field(default=None, index=True)  # a staff user's login name
    action: str = Field(index=True)
    source: str | None = None  # the client's address (IP)
    target: str | None = None
    details: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    result: str
    prev_hash: str
    hash: str


class ActionLogEntry(ActionLogEntryBase, BackendTable, table=True):
    """One off-chain action, append-only: its hash covers its fields and the hash before it."""

    __tablename__ = "action_log"


class ActionLogHead(BackendTable, table=True):
    """The one row every append locks and moves: the last entry's seq and hash."""

    __tablename__ = "action_log_head"

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    seq: int = Field(sa_type=BigInteger)
    hash: str


# -- documents and requests --------------------------------------------------------------------


class InvoiceDocumentBase(SQLModel):
    id: int | None = Field(default=None, primary_key=True)
    seller: str = Field(index=True)
    buyer: str = Field(index=True)
    number: str
    currency: str
    amount: int = Field(sa_type=Uint256)
    issue_date: str
    due_date: str
    document: dict[str, Any] = Field(sa_type=JSONType)
    invoice_hash: str
    invoice_key: str = Field(index=True)
    root_id: int | None = Field(default=None, sa_type=BigInteger, index=True)
    tx_request_id: str = Field(index=True)
    created_at: datetime = _ts()


class InvoiceDocument(InvoiceDocumentBase, BackendTable, table=True):
    """The off-chain invoice; its keccak is the root's invoice hash."""

    __tablename__ = "invoice_document"

    canonical: str


# -- documents behind a receivable (attachments) ---------------------------------------------


class Upload(BackendTable, table=True):
    """A file a member uploaded for an invoice it has yet to register: held for its uploader
    alone until the keeper purges it (`upload_retention_hours`). Its bytes are in the blob
    store under `sha256`."""

    __tablename__ = "upload"
    __table_args__ = (UniqueConstraint("owner", "sha256", name="uq_upload_owner_sha256"),)

    id: int | None = Field(default=None, primary_key=True)
    owner: str = Field(index=True)
    sha256: str = Field(index=True)
    size: int = Field(sa_type=BigInteger)
    content_type: str  # as found in the bytes, never as declared
    file_name: str
    created_at: datetime = _ts(index=True)


class InvoiceAttachment(BackendTable, table=True):
    """A file behind an invoice. `covered`: named when the invoice was registered, so in its
    canonical document, whose keccak is the root's invoice hash on the ledger; else a
    supplementary file added later, recorded off the ledger only."""

    __tablename__ = "invoice_attachment"
    __table_args__ = (UniqueConstraint("invoice_id", "sha256", name="uq_invoice_attachment"),)

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(index=True)
    sha256: str = Field(index=True)
    kind: str
    size: int = Field(sa_type=BigInteger)
    content_type: str
    file_name: str
    covered: bool
    added_by: str
    created_at: datetime = _ts()


class FinancingStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class FinancingRequestBase(SQLModel):
    id: int | None = Field(default=None, primary_key=True)
    piece_id: int = Field(sa_type=BigInteger, index=True)
    requester: str = Field(index=True)
    amount_wanted: int = Field(sa_type=Uint256)
    max_rate_bps: int
    status: FinancingStatus = Field(default=FinancingStatus.OPEN, sa_type=String(16))
    created_at: datetime = _ts()


class FinancingRequest(FinancingRequestBase, BackendTable, table=True):
    """A holder asks financiers for an offer on a piece (off-chain)."""

    __tablename__ = "financing_request"


class FinancingOffer(BackendTable, table=True):
    """Which financing request a mined offer answers (the ledger knows offers, not requests)."""

    __tablename__ = "financing_offer"

    offer_id: int = Field(
        sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    financing_request_id: int = Field(index=True)


class TxStatus(StrEnum):
    AWAITING_SIGNATURE = "awaiting_signature"  # non-custodial signer: prepared, client signs
    PENDING_APPROVAL = "pending_approval"  # under the member's policy: sent once approved
    QUEUED = "queued"
    SIGNED = "signed"  # signed bytes stored, maybe broadcast: only ever re-broadcast
    SENT = "sent"
    MINED = "mined"
    FAILED = "failed"
    EXPIRED = "expired"  # left unsigned or unapproved past its deadline; nothing was sent
    REJECTED = "rejected"  # an approver (or the maker) turned it down; nothing was sent

    #: a worker still has to take it further
    IN_FLIGHT = nonmember((QUEUED, SIGNED, SENT))
    #: nothing more will happen to it
    FINAL = nonmember((MINED, FAILED, EXPIRED, REJECTED))
    #: waiting for it is pointless: final, or waiting on the member's signature or approvers
    WAIT_ENDS = nonmember((MINED, FAILED, EXPIRED, REJECTED, AWAITING_SIGNATURE, PENDING_APPROVAL))
    #: its nonce is taken: stored signed (maybe broadcast) or mined
    NONCE_TAKEN = nonmember((SIGNED, SENT, MINED))


class TxRequestBase(SQLModel):
    id: str = Field(primary_key=True)
    member: str = Field(index=True, description="Who asked (the authenticated member).")
    signer: str = Field(index=True, description="The address that signs the transaction.")
    action: str
    params: dict[str, Any] = Field(sa_type=JSONType)
    status: TxStatus = Field(default=TxStatus.QUEUED, sa_type=String(24), index=True)
    tx_hash: str | None = Field(default=None, index=True)
    nonce: int | None = None
    block_number: int | None = Field(default=None, sa_type=BigInteger)
    error_code: str | None = None
    error_message: str | None = None
    error_details: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    result: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    expires_at: datetime | None = Field(
        default=None,
        sa_type=DateTime(timezone=True),
        description="Awaiting a signature or approval: the request expires at this time.",
    )
    made_by: str | None = Field(default=None, description="The staff user who made it (login).")
    approvals_required: int = Field(
        default=0, description="Approvers its member's policy asked for besides the maker."
    )


class TxRequest(TxRequestBase, BackendTable, table=True):
    """One write: queued → signed → sent → mined | failed; a non-custodial signer's write
    starts awaiting_signature (→ signed, or → expired)."""

    __tablename__ = "tx_request"
    __table_args__ = (
        UniqueConstraint("member", "idempotency_key", name="uq_tx_request_idempotency"),
        Index("ix_tx_request_status_updated", "status", "updated_at"),
        Index("ix_tx_request_signer_status", "signer", "status"),
        Index("ix_tx_request_signer_nonce", "signer", "nonce"),  # the nonce floor
    )

    idempotency_key: str | None = None
    request_hash: str
    raw_tx: str | None = None
    unsigned_tx: dict[str, Any] | None = Field(
        default=None, sa_type=JSONType, description="The prepared transaction, nonce excepted."
    )
    attempts: int = 0
    claim_token: str | None = None
    maker_id: str | None = None  # the staff user's id (made_by is the login shown)
    action_hash: str | None = None  # what its approvals must cover (pending approval only)
    locked_until: datetime | None = _ts_opt()


class Alert(BackendTable, table=True):
    """Something the keeper found wrong (a reconciliation mismatch, a stuck request)."""

    __tablename__ = "alert"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(index=True)
    message: str
    details: dict[str, Any] = Field(sa_type=JSONType)
    created_at: datetime = _ts()


# -- notifications -----------------------------------------------------------------------------
# Derived from the mirror's ledger events (backend.services.notifications), delivered by webhook
# and e-mail (backend.services.delivery). A notification's key is (member, kind, ref), where ref
# is the event's stable identity (tx hash and its place among the transaction's logs), so that a
# pass run again, after a restart or over a reorg re-applying the same transactions, adds none.


class NotificationKind(StrEnum):
    """What a member is told (the `kind` of a notification, the webhook's `SCF-Event`)."""

    INVOICE_AWAITING_CONFIRMATION = "invoice_awaiting_confirmation"
    INVOICE_CONFIRMED = "invoice_confirmed"
    INVOICE_REJECTED = "invoice_rejected"
    PAYABLE_REFUSED = "payable_refused"
    PIECE_RECEIVED = "piece_received"
    OFFER_RECEIVED = "offer_received"
    OFFER_ACCEPTED = "offer_accepted"
    OFFER_EXPIRED = "offer_expired"
    OFFER_REFUNDED = "offer_refunded"
    PAYOUT_RECEIVED = "payout_received"
    DUE_IN_7_DAYS = "due_in_7_days"
    DUE_IN_1_DAY = "due_in_1_day"
    RECEIVABLE_OVERDUE = "receivable_overdue"
    FROZEN = "frozen"
    UNFROZEN = "unfrozen"
    MEMBERSHIP_SUSPENDED = "membership_suspended"
    WEBHOOK_DISABLED = "webhook_disabled"
    APPROVAL_REQUESTED = "approval_requested"
    APPROVAL_REJECTED = "approval_rejected"


class NotifyCursor(BackendTable, table=True):
    """The last ledger event turned into notifications, and which one it was (a rollback that
    cut it shows as a different event, or none, at that id)."""

    __tablename__ = "notify_cursor"

    chain_id: int = Field(
        sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    event_id: int = Field(sa_type=BigInteger)
    block_hash: str | None = None
    log_index: int | None = None
    updated_at: datetime = _ts()


class Notification(BackendTable, table=True):
    """Something a member is told: made once per (member, kind, ref)."""

    __tablename__ = "notification"
    __table_args__ = (
        UniqueConstraint("member", "kind", "ref", name="uq_notification_key"),
        Index("ix_notification_member_id", "member", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    member: str  # lower-case address
    kind: str = Field(sa_type=String(40))
    ref: str = Field(
        description="The event's tx hash and its ordinal among the tx's logs, or "
        "the receivable and threshold of a reminder."
    )
    chain_id: int = Field(sa_type=BigInteger)
    title: str
    message: str
    data: dict[str, Any] = Field(sa_type=JSONType)
    tx_hash: str | None = None
    block_number: int | None = Field(default=None, sa_type=BigInteger)
    created_at: datetime = _ts()
    read_at: datetime | None = _ts_opt()


class NotificationPreference(BackendTable, table=True):
    """A member's e-mail channel: on by default, to its directory contact unless it names
    another address; `kinds` empty means every kind."""

    __tablename__ = "notification_preference"

    member: str = Field(primary_key=True)
    email_enabled: bool = True
    email: str | None = None
    kinds: list[str] = Field(default_factory=list, sa_type=JSONType)
    updated_at: datetime = _ts()


class WebhookEndpoint(BackendTable, table=True):
    """A member's HTTPS receiver. Its signing secret is sealed under the master key (it must be
    recovered to sign); it is shown once, when the endpoint is made."""

    __tablename__ = "webhook_endpoint"

    id: str = Field(primary_key=True)
    member: str = Field(index=True)
    url: str
    kinds: list[str] = Field(default_factory=list, sa_type=JSONType)
    description: str | None = None
    secret_nonce: bytes = Field(sa_type=LargeBinary)
    secret_ciphertext: bytes = Field(sa_type=LargeBinary)
    enabled: bool = True
    failures_in_a_row: int = 0
    disabled_at: datetime | None = _ts_opt()
    disabled_reason: str | None = None
    created_at: datetime = _ts()


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # due at next_attempt_at
    DELIVERED = "delivered"
    FAILED = "failed"  # every attempt failed
    ABANDONED = "abandoned"  # its endpoint was disabled or removed first


class NotificationDelivery(BackendTable, table=True):
    """One notification to one channel (a webhook endpoint, or e-mail), retried with
    exponential backoff until delivered or given up."""

    __tablename__ = "notification_delivery"
    __table_args__ = (
        Index("ix_notification_delivery_due", "status", "next_attempt_at"),
        Index("ix_notification_delivery_endpoint", "endpoint_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    notification_id: int = Field(index=True)
    member: str
    channel: str = Field(sa_type=String(16))  # webhook | email
    endpoint_id: str | None = None
    recipient: str = Field(description="The endpoint's URL or the e-mail address.")
    status: DeliveryStatus = Field(default=DeliveryStatus.PENDING, sa_type=String(16))
    attempts: int = 0
    next_attempt_at: datetime | None = _ts_opt()
    last_status: int | None = None
    last_error: str | None = None
    delivered_at: datetime | None = _ts_opt()
    created_at: datetime = _ts()


class DeliveryAttempt(BackendTable, table=True):
    """One try of a delivery: the HTTP status (or SMTP reply code) and when."""

    __tablename__ = "delivery_attempt"

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(index=True)
    attempted_at: datetime = _ts()
    status: int | None = None
    error: str | None = None
    duration_ms: int = 0


BACKEND_TABLES: tuple[type[SQLModel], ...] = (
    LoginChallenge,
    ApiKey,
    RevokedToken,
    CustodyKey,
    ActivationCode,
    InvoiceDocument,
    Upload,
    InvoiceAttachment,
    FinancingRequest,
    TxRequest,
    Alert,
    NotifyCursor,
    Notification,
    NotificationPreference,
    WebhookEndpoint,
    NotificationDelivery,
    DeliveryAttempt,
    ActionLogEntry,
    ActionLogHead,
)
