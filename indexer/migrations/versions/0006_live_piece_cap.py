"""ledger_status.max_live_pieces and root.live_pieces: the ledger's cap on a receivable's pieces.

`Receivables` bounds the live pieces of each receivable (a limit set with the others and
carried by `LimitsChanged`); each root counts its live pieces. Existing roots get the count of
their pending or active pieces; an existing ledger status gets 0 (no cap was known) until the
next `LimitsChanged`.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING, ACTIVE = 1, 2  # chain.enums.PieceStatus, as the contracts number them


def upgrade() -> None:
    op.add_column(
        "ledger_status",
        sa.Column("max_live_pieces", sa.BigInteger(), nullable=False, server_default="0"),
    )
    op.add_column(
        "root", sa.Column("live_pieces", sa.BigInteger(), nullable=False, server_default="1")
    )
    op.execute(
        sa.text(
            "UPDATE root SET live_pieces = (SELECT count(*) FROM piece"
            " WHERE piece.chain_id = root.chain_id AND piece.root_id = root.root_id"
            f" AND piece.status IN ({PENDING}, {ACTIVE}))"
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("root") as batch:
        batch.drop_column("live_pieces")
    with op.batch_alter_table("ledger_status") as batch:
        batch.drop_column("max_live_pieces")
