"""ledger_event_party: an index by party alone, for the auditors' cash movements of a member.

`audit.cash_movements` reaches each side of a transfer through the party row of its account,
and an auditor asks for one account without naming the chain: the key (chain, party, event)
cannot start there, so the read scanned every party row of the ledger.

Revision ID: 0008_party_by_address
Revises: 0007_cash_movements
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008_party_by_address"
down_revision: str | Sequence[str] | None = "0007_cash_movements"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_ledger_event_party_party", "ledger_event_party", ["party"])


def downgrade() -> None:
    op.drop_index("ix_ledger_event_party_party", table_name="ledger_event_party")
