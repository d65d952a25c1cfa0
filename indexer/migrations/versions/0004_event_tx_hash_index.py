"""ledger_event: the transaction-hash index as a hash index on PostgreSQL.

Transaction hashes are only ever looked up by equality; a hash index stores a 4-byte hash code
instead of the 66-character text and costs about half as much per inserted event as the B-tree
(~0.07 CPU-s per 100k events on the indexer bench). SQLite keeps its B-tree.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_ledger_event_tx", table_name="ledger_event")
    op.create_index("ix_ledger_event_tx", "ledger_event", ["tx_hash"], postgresql_using="hash")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_ledger_event_tx", table_name="ledger_event")
    op.create_index("ix_ledger_event_tx", "ledger_event", ["tx_hash"])
