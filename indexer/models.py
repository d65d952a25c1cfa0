"""The mirror tables. Raw events are append-only; everything else is derived from them.

Every table is keyed by chain id first, so that one database can mirror several chains.
Addresses and hashes are lower-case 0x text; amounts are `Uint256` (NUMERIC(78,0)); enum columns
hold the contract's enum values (`chain.enums`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, PrimaryKeyConstraint, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from indexer.types import Uint256

JSONType = JSON().with_variant(JSONB(), "postgresql")
AutoBigInt = BigInteger().with_variant(Integer(), "sqlite")


def _chain_id() -> Any:
    return Field(sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False})


def _pk(table: str, *columns: str) -> PrimaryKeyConstraint:
    return PrimaryKeyConstraint("chain_id", *columns, name=f"pk_{table}")


def _block() -> Any:
    return Field(sa_type=BigInteger)


def _money(default: int | None = 0) -> Any:
    return Field(default=default, sa_type=Uint256)


# -- bookkeeping -------------------------------------------------------------------------------


class IndexerState(SQLModel, table=True):
    """What a chain's mirror was built from and how far it has got (the cursor)."""

    __tablename__ = "indexer_state"

    chain_id: int = _chain_id()
    genesis_hash: str
    registry_address: str
    token_address: str
    receivables_address: str
    start_block: int = _block()
    cursor_block: int = _block()
    cursor_hash: str | None = None
    final_block: int = Field(
        sa_type=BigInteger, description="Nothing at or below this block can be rolled back."
    )
    updated_at: datetime


class LedgerBlock(SQLModel, table=True):
    """Recently seen blocks (the reorg window) and every batch's last block."""

    __tablename__ = "ledger_block"
    __table_args__ = (_pk("ledger_block", "number"),)

    chain_id: int = _chain_id()
    number: int = Field(sa_type=BigInteger, primary_key=True)
    hash: str
    parent_hash: str


class LedgerEvent(SQLModel, table=True):
    """Every log of the three contracts, decoded; integers in `args` are decimal strings.

    A position (block number, log index) holds one event: a rollback cuts the events above the
    fork before the new branch is written. The key doubles as the index for block ranges."""

    __tablename__ = "ledger_event"
    __table_args__ = (
        UniqueConstraint("chain_id", "block_number", "log_index", name="uq_ledger_event_position"),
        Index("ix_ledger_event_name", "chain_id", "event"),
        # Looked up by equality only: a hash index is half the insert cost of a B-tree.
        Index("ix_ledger_event_tx", "tx_hash", postgresql_using="hash"),
    )

    id: int | None = Field(default=None, sa_type=AutoBigInt, primary_key=True)
    chain_id: int = Field(sa_type=BigInteger)
    block_number: int = _block()
    block_hash: str
    tx_hash: str
    tx_index: int
    log_index: int
    contract: str
    address: str
    event: str
    args: dict[str, Any] = Field(sa_type=JSONType)


class LedgerEventParty(SQLModel, table=True):
    """Who an event concerns: one row per distinct non-zero address among its arguments.

    The key (chain, party, event id) answers "party X's events after id N, by id" with one
    index range scan; rollback cuts rows by block number, like the other append-only rows."""

    __tablename__ = "ledger_event_party"
    __table_args__ = (
        _pk("ledger_event_party", "party", "event_id"),
        # BRIN: the rows arrive in block order, so a few bytes per range of pages find the
        # rows above a fork, at almost no cost per insert.
        Index("ix_ledger_event_party_block", "block_number", postgresql_using="brin"),
        # A party's rows across chains, for reads that name no chain (the auditors' SQL:
        # audit.cash_movements of one account); its repeated addresses deduplicate to a few
        # bytes per row.
        Index("ix_ledger_event_party_party", "party"),
    )

    chain_id: int = _chain_id()
    party: str = Field(primary_key=True)
    event_id: int = Field(sa_type=BigInteger, primary_key=True)
    block_number: int = _block()


class IndexerUndo(SQLModel, table=True):
    """Prior image of a derived row, taken when a recent block first changed it."""

    __tablename__ = "indexer_undo"
    __table_args__ = (Index("ix_indexer_undo_block", "chain_id", "block_number"),)

    id: int | None = Field(default=None, sa_type=AutoBigInt, primary_key=True)
    chain_id: int = Field(sa_type=BigInteger)
    block_number: int = _block()
    table_name: str
    key: str
    prior: str | None = None


# -- derived state -----------------------------------------------------------------------------


class LedgerStatus(SQLModel, table=True):
    """Ledger-wide switches and limits, and the settlement token's supply."""

    __tablename__ = "ledger_status"

    chain_id: int = _chain_id()
    paused: bool = False
    token_ledger: str | None = None
    max_depth: int = 0
    min_piece_amount: int = _money()
    grace_period: int = Field(default=0, sa_type=BigInteger)
    max_live_pieces: int = Field(default=0, sa_type=BigInteger)
    total_supply: int = _money()
    updated_block: int = _block()


class MemberBase(SQLModel):
    address: str = Field(primary_key=True)
    roles: int
    status: int
    entity_id: str
    credit_limit: int = _money()
    credit_used: int = _money()
    added_block: int = _block()
    updated_block: int = _block()


class Member(MemberBase, table=True):
    __tablename__ = "member"
    __table_args__ = (_pk("member", "address"),)

    chain_id: int = _chain_id()


class RootBase(SQLModel):
    root_id: int = Field(sa_type=BigInteger, primary_key=True)
    debtor: str = Field(index=True)
    supplier: str = Field(index=True)
    face_value: int = _money()
    due_date: int = Field(sa_type=BigInteger)
    invoice_hash: str
    invoice_key: str
    status: int
    frozen: bool = False
    head: int = Field(sa_type=BigInteger)
    cursor: int = Field(default=0, sa_type=BigInteger)
    live_pieces: int = Field(default=1, sa_type=BigInteger)
    repaid: int = _money()
    distributed: int = _money()
    registered_block: int = _block()
    updated_block: int = _block()


class Root(RootBase, table=True):
    __tablename__ = "root"
    __table_args__ = (
        _pk("root", "root_id"),
        # every registration asks whether its invoice key is already on the ledger
        Index("ix_root_invoice_key", "chain_id", "invoice_key"),
    )

    chain_id: int = _chain_id()


class PieceBase(SQLModel):
    piece_id: int = Field(sa_type=BigInteger, primary_key=True)
    root_id: int = Field(sa_type=BigInteger, index=True)
    parent_id: int | None = Field(default=None, sa_type=BigInteger, index=True)
    depth: int
    holder: str = Field(index=True)
    amount: int = _money()
    status: int
    frozen: bool = False
    paid_out: int = _money()
    next_id: int = Field(default=0, sa_type=BigInteger)
    created_block: int = _block()
    updated_block: int = _block()

    @property
    def paid(self) -> bool:
        """The contracts do not store `Paid`: a piece is paid when its paid-out is its amount."""
        return self.paid_out == self.amount


class Piece(PieceBase, table=True):
    __tablename__ = "piece"
    __table_args__ = (_pk("piece", "piece_id"),)

    chain_id: int = _chain_id()


class OfferBase(SQLModel):
    offer_id: int = Field(sa_type=BigInteger, primary_key=True)
    piece_id: int = Field(sa_type=BigInteger, index=True)
    financier: str = Field(index=True)
    price: int = _money()
    expiry: int = Field(sa_type=BigInteger)
    status: int
    seller: str | None = None
    expired: bool | None = None
    posted_block: int = _block()
    closed_block: int | None = Field(default=None, sa_type=BigInteger)


class Offer(OfferBase, table=True):
    __tablename__ = "offer"
    __table_args__ = (_pk("offer", "offer_id"),)

    chain_id: int = _chain_id()


class CashBalance(SQLModel, table=True):
    """SettlementToken balance per address (the Receivables escrow included)."""

    __tablename__ = "cash_balance"
    __table_args__ = (_pk("cash_balance", "address"),)

    chain_id: int = _chain_id()
    address: str = Field(primary_key=True)
    balance: int = _money()
    updated_block: int = _block()


class Holding(SQLModel, table=True):
    """Who held a piece over which blocks: held at the end of block N iff
    `from_block <= N` and (`to_block` is null or `to_block > N`)."""

    __tablename__ = "holding"
    __table_args__ = (
        _pk("holding", "piece_id", "from_block", "from_log_index"),
        Index("ix_holding_holder", "chain_id", "holder", "to_block"),
    )

    chain_id: int = _chain_id()
    piece_id: int = Field(sa_type=BigInteger, primary_key=True)
    from_block: int = Field(sa_type=BigInteger, primary_key=True)
    from_log_index: int = Field(primary_key=True)
    holder: str
    amount: int = _money()
    to_block: int | None = Field(default=None, sa_type=BigInteger)
    to_log_index: int | None = None


class _EventRow(SQLModel):
    chain_id: int = _chain_id()
    block_number: int = Field(sa_type=BigInteger, primary_key=True)
    log_index: int = Field(primary_key=True)
    tx_hash: str


class Repayment(_EventRow, table=True):
    __tablename__ = "repayment"
    __table_args__ = (_pk("repayment", "block_number", "log_index"),)

    root_id: int = Field(sa_type=BigInteger, index=True)
    debtor: str
    amount: int = _money()
    total_repaid: int = _money()
    credit_used: int = _money()


class PiecePayment(_EventRow, table=True):
    """One payout to a piece's holder (by a distribution pass or a claim)."""

    __tablename__ = "piece_payment"
    __table_args__ = (
        _pk("piece_payment", "block_number", "log_index"),
        # a holder's payouts over a period, in chain order (its remittance advice)
        Index("ix_piece_payment_holder", "chain_id", "holder", "block_number", "log_index"),
    )

    piece_id: int = Field(sa_type=BigInteger, index=True)
    root_id: int = Field(sa_type=BigInteger, index=True)
    holder: str
    amount: int = _money()
    paid_out: int = _money()


class Distribution(_EventRow, table=True):
    """One bounded distribution pass over a root's pieces."""

    __tablename__ = "distribution"
    __table_args__ = (_pk("distribution", "block_number", "log_index"),)

    root_id: int = Field(sa_type=BigInteger, index=True)
    pieces_visited: int
    amount: int = _money()
    next_cursor: int = Field(sa_type=BigInteger)


MIRROR_TABLES: tuple[type[SQLModel], ...] = (
    IndexerState,
    LedgerBlock,
    LedgerEvent,
    LedgerEventParty,
    IndexerUndo,
    LedgerStatus,
    Member,
    Root,
    Piece,
    Offer,
    CashBalance,
    Holding,
    Repayment,
    PiecePayment,
    Distribution,
)

metadata = SQLModel.metadata
