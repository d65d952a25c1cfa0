"""Mirror tables: raw events, blocks, cursor, undo journal and derived ledger state.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from indexer.types import Uint256

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "cash_balance",
        sa.Column("chain_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("address", sa.String(), nullable=False),
        sa.Column("balance", Uint256(), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "address", name="pk_cash_balance"),
    )
    op.create_table(
        "distribution",
        sa.Column("chain_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("tx_hash", sa.String(), nullable=False),
        sa.Column("root_id", sa.BigInteger(), nullable=False),
        sa.Column("pieces_visited", sa.Integer(), nullable=False),
        sa.Column("amount", Uint256(), nullable=False),
        sa.Column("next_cursor", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "block_number", "log_index", name="pk_distribution"),
    )
    op.create_index(op.f("ix_distribution_root_id"), "distribution", ["root_id"], unique=False)
    op.create_table(
        "holding",
        sa.Column("chain_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("piece_id", sa.BigInteger(), nullable=False),
        sa.Column("from_block", sa.BigInteger(), nullable=False),
        sa.Column("from_log_index", sa.Integer(), nullable=False),
        sa.Column("holder", sa.String(), nullable=False),
        sa.Column("amount", Uint256(), nullable=False),
        sa.Column("to_block", sa.BigInteger(), nullable=True),
        sa.Column("to_log_index", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint(
            "chain_id", "piece_id", "from_block", "from_log_index", name="pk_holding"
        ),
    )
    op.create_index(
        "ix_holding_holder", "holding", ["chain_id", "holder", "to_block"], unique=False
    )
    op.create_table(
        "indexer_state",
        sa.Column("chain_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("genesis_hash", sa.String(), nullable=False),
        sa.Column("registry_address", sa.String(), nullable=False),
        sa.Column("token_address", sa.String(), nullable=False),
        sa.Column("receivables_address", sa.String(), nullable=False),
        sa.Column("start_block", sa.BigInteger(), nullable=False),
        sa.Column("cursor_block", sa.BigInteger(), nullable=False),
        sa.Column("cursor_hash", sa.String(), nullable=True),
        sa.Column("final_block", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("chain_id"),
    )
    op.create_table(
        "indexer_undo",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("table_name", sa.String(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("prior", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_indexer_undo_block", "indexer_undo", ["chain_id", "block_number"], unique=False
    )
    op.create_table(
        "ledger_block",
        sa.Column("chain_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(), nullable=False),
        sa.Column("parent_hash", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "number", name="pk_ledger_block"),
    )
    op.create_table(
        "ledger_event",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(), nullable=False),
        sa.Column("tx_hash", sa.String(), nullable=False),
        sa.Column("tx_index", sa.Integer(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("contract", sa.String(), nullable=False),
        sa.Column("address", sa.String(), nullable=False),
        sa.Column("event", sa.String(), nullable=False),
        sa.Column(
            "args",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("chain_id", "block_hash", "log_index", name="uq_ledger_event_log"),
    )
    op.create_index(
        "ix_ledger_event_block",
        "ledger_event",
        ["chain_id", "block_number", "log_index"],
        unique=False,
    )
    op.create_index("ix_ledger_event_name", "ledger_event", ["chain_id", "event"], unique=False)
    op.create_index("ix_ledger_event_tx", "ledger_event", ["tx_hash"], unique=False)
    op.create_table(
        "ledger_status",
        sa.Column("chain_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("token_ledger", sa.String(), nullable=True),
        sa.Column("max_depth", sa.Integer(), nullable=False),
        sa.Column("min_piece_amount", Uint256(), nullable=False),
        sa.Column("grace_period", sa.BigInteger(), nullable=False),
        sa.Column("total_supply", Uint256(), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id"),
    )
    op.create_table(
        "member",
        sa.Column("address", sa.String(), nullable=False),
        sa.Column("roles", sa.Integer(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("entity_id", sa.String(), nullable=False),
        sa.Column("credit_limit", Uint256(), nullable=False),
        sa.Column("credit_used", Uint256(), nullable=False),
        sa.Column("added_block", sa.BigInteger(), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "address", name="pk_member"),
    )
    op.create_table(
        "offer",
        sa.Column("offer_id", sa.BigInteger(), nullable=False),
        sa.Column("piece_id", sa.BigInteger(), nullable=False),
        sa.Column("financier", sa.String(), nullable=False),
        sa.Column("price", Uint256(), nullable=False),
        sa.Column("expiry", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("seller", sa.String(), nullable=True),
        sa.Column("expired", sa.Boolean(), nullable=True),
        sa.Column("posted_block", sa.BigInteger(), nullable=False),
        sa.Column("closed_block", sa.BigInteger(), nullable=True),
        sa.Column("chain_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "offer_id", name="pk_offer"),
    )
    op.create_index(op.f("ix_offer_financier"), "offer", ["financier"], unique=False)
    op.create_index(op.f("ix_offer_piece_id"), "offer", ["piece_id"], unique=False)
    op.create_table(
        "piece",
        sa.Column("piece_id", sa.BigInteger(), nullable=False),
        sa.Column("root_id", sa.BigInteger(), nullable=False),
        sa.Column("parent_id", sa.BigInteger(), nullable=True),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.Column("holder", sa.String(), nullable=False),
        sa.Column("amount", Uint256(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("frozen", sa.Boolean(), nullable=False),
        sa.Column("paid_out", Uint256(), nullable=False),
        sa.Column("next_id", sa.BigInteger(), nullable=False),
        sa.Column("created_block", sa.BigInteger(), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "piece_id", name="pk_piece"),
    )
    op.create_index(op.f("ix_piece_holder"), "piece", ["holder"], unique=False)
    op.create_index(op.f("ix_piece_parent_id"), "piece", ["parent_id"], unique=False)
    op.create_index(op.f("ix_piece_root_id"), "piece", ["root_id"], unique=False)
    op.create_table(
        "piece_payment",
        sa.Column("chain_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("tx_hash", sa.String(), nullable=False),
        sa.Column("piece_id", sa.BigInteger(), nullable=False),
        sa.Column("root_id", sa.BigInteger(), nullable=False),
        sa.Column("holder", sa.String(), nullable=False),
        sa.Column("amount", Uint256(), nullable=False),
        sa.Column("paid_out", Uint256(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "block_number", "log_index", name="pk_piece_payment"),
    )
    op.create_index(op.f("ix_piece_payment_piece_id"), "piece_payment", ["piece_id"], unique=False)
    op.create_index(op.f("ix_piece_payment_root_id"), "piece_payment", ["root_id"], unique=False)
    op.create_table(
        "repayment",
        sa.Column("chain_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("tx_hash", sa.String(), nullable=False),
        sa.Column("root_id", sa.BigInteger(), nullable=False),
        sa.Column("debtor", sa.String(), nullable=False),
        sa.Column("amount", Uint256(), nullable=False),
        sa.Column("total_repaid", Uint256(), nullable=False),
        sa.Column("credit_used", Uint256(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "block_number", "log_index", name="pk_repayment"),
    )
    op.create_index(op.f("ix_repayment_root_id"), "repayment", ["root_id"], unique=False)
    op.create_table(
        "root",
        sa.Column("root_id", sa.BigInteger(), nullable=False),
        sa.Column("debtor", sa.String(), nullable=False),
        sa.Column("supplier", sa.String(), nullable=False),
        sa.Column("face_value", Uint256(), nullable=False),
        sa.Column("due_date", sa.BigInteger(), nullable=False),
        sa.Column("invoice_hash", sa.String(), nullable=False),
        sa.Column("invoice_key", sa.String(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("frozen", sa.Boolean(), nullable=False),
        sa.Column("head", sa.BigInteger(), nullable=False),
        sa.Column("cursor", sa.BigInteger(), nullable=False),
        sa.Column("repaid", Uint256(), nullable=False),
        sa.Column("distributed", Uint256(), nullable=False),
        sa.Column("registered_block", sa.BigInteger(), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "root_id", name="pk_root"),
    )
    op.create_index(op.f("ix_root_debtor"), "root", ["debtor"], unique=False)
    op.create_index(op.f("ix_root_supplier"), "root", ["supplier"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f("ix_root_supplier"), table_name="root")
    op.drop_index(op.f("ix_root_debtor"), table_name="root")
    op.drop_table("root")
    op.drop_index(op.f("ix_repayment_root_id"), table_name="repayment")
    op.drop_table("repayment")
    op.drop_index(op.f("ix_piece_payment_root_id"), table_name="piece_payment")
    op.drop_index(op.f("ix_piece_payment_piece_id"), table_name="piece_payment")
    op.drop_table("piece_payment")
    op.drop_index(op.f("ix_piece_root_id"), table_name="piece")
    op.drop_index(op.f("ix_piece_parent_id"), table_name="piece")
    op.drop_index(op.f("ix_piece_holder"), table_name="piece")
    op.drop_table("piece")
    op.drop_index(op.f("ix_offer_piece_id"), table_name="offer")
    op.drop_index(op.f("ix_offer_financier"), table_name="offer")
    op.drop_table("offer")
    op.drop_table("member")
    op.drop_table("ledger_status")
    op.drop_index("ix_ledger_event_tx", table_name="ledger_event")
    op.drop_index("ix_ledger_event_name", table_name="ledger_event")
    op.drop_index("ix_ledger_event_block", table_name="ledger_event")
    op.drop_table("ledger_event")
    op.drop_table("ledger_block")
    op.drop_index("ix_indexer_undo_block", table_name="indexer_undo")
    op.drop_table("indexer_undo")
    op.drop_table("indexer_state")
    op.drop_index("ix_holding_holder", table_name="holding")
    op.drop_table("holding")
    op.drop_index(op.f("ix_distribution_root_id"), table_name="distribution")
    op.drop_table("distribution")
    op.drop_table("cash_balance")
