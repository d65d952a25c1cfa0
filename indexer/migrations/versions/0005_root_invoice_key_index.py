"""root: an index on (chain_id, invoice_key).

Every invoice registration asks whether its invoice key is already held by a live root (the
ledger refuses a key twice). Without this index that question scanned the whole root table, a
cost that grew with every receivable ever registered.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_root_invoice_key", "root", ["chain_id", "invoice_key"])


def downgrade() -> None:
    op.drop_index("ix_root_invoice_key", table_name="root")
