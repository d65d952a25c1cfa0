"""ledger_event: unique on (chain id, block number, log index) instead of the block hash.

Rollback deletes every event above the fork before the new branch is written, so a position
holds one event at a time; the new key also serves range scans by block, so the separate
block index (and the 66-character hash key) no longer cost an index insert per event.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ledger_event") as batch:
        batch.drop_constraint("uq_ledger_event_log", type_="unique")
        batch.drop_index("ix_ledger_event_block")
        batch.create_unique_constraint(
            "uq_ledger_event_position", ["chain_id", "block_number", "log_index"]
        )


def downgrade() -> None:
    with op.batch_alter_table("ledger_event") as batch:
        batch.drop_constraint("uq_ledger_event_position", type_="unique")
        batch.create_index("ix_ledger_event_block", ["chain_id", "block_number", "log_index"])
        batch.create_unique_constraint(
            "uq_ledger_event_log", ["chain_id", "block_hash", "log_index"]
        )
