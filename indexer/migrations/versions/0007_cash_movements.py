"""piece_payment: an index by holder and position, for a member's remittance advice.

The remittance advice reads one holder's payouts over a period in chain order; piece_payment
was indexed by piece and by root only, so that read scanned every payout of the ledger.

Revision ID: 0007_cash_movements
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007_cash_movements"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_piece_payment_holder",
        "piece_payment",
        ["chain_id", "holder", "block_number", "log_index"],
    )


def downgrade() -> None:
    op.drop_index("ix_piece_payment_holder", table_name="piece_payment")
