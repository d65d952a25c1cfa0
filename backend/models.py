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
    """A machine client's credential; only a hash of its secret is kept."""

    __tablename__ = "api_key"

    secret_hash: str


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


class TxStatus(StrEnum):
    AWAITING_SIGNATURE = "awaiting_signature"  # non-custodial signer: prepared, client signs
    QUEUED = "queued"
    SIGNED = "signed"  # signed bytes stored, maybe broadcast: only ever re-broadcast
    SENT = "sent"
    MINED = "mined"
    FAILED = "failed"
    EXPIRED = "expired"  # left unsigned past its deadline; nothing was ever sent

    #: a worker still has to take it further
    IN_FLIGHT = nonmember((QUEUED, SIGNED, SENT))
    #: nothing more will happen to it
    FINAL = nonmember((MINED, FAILED, EXPIRED))
    #: waiting for it is pointless: final, or waiting on the member itself
    WAIT_ENDS = nonmember((MINED, FAILED, EXPIRED, AWAITING_SIGNATURE))
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
        description="Awaiting a signature: the request expires unsigned at this time.",
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
    locked_until: datetime | None = _ts_opt()


class Alert(BackendTable, table=True):
    """Something the keeper found wrong (a reconciliation mismatch, a stuck request)."""

    __tablename__ = "alert"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(index=True)
    message: str
    details: dict[str, Any] = Field(sa_type=JSONType)
    created_at: datetime = _ts()


BACKEND_TABLES: tuple[type[SQLModel], ...] = (
    LoginChallenge,
    ApiKey,
    RevokedToken,
    CustodyKey,
    InvoiceDocument,
    FinancingRequest,
    TxRequest,
    Alert,
    ActionLogEntry,
    ActionLogHead,
)
