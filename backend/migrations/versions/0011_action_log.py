"""the off-chain action log (issue 15): a hash chain of every off-chain action, and its head

Revision ID: 0011_action_log
Revises: 0010_notifications
Create Date: 2026-12-02 18:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0011_action_log"
down_revision: str | Sequence[str] | None = "0010_notifications"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS = "0" * 64  # the prev_hash of the first entry (backend.services.action_log.GENESIS)


def upgrade() -> None:
    op.create_table(
        "action_log",
        sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("member", sa.String(), nullable=True),
        sa.Column("user", sa.String(), nullable=True),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("source", sa.String(), nullable=True),
        sa.Column("target", sa.String(), nullable=True),
        sa.Column("details", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False),
        sa.Column("result", sa.String(), nullable=False),
        sa.Column("prev_hash", sa.String(), nullable=False),
        sa.Column("hash", sa.String(), nullable=False),
    )
    for column in ("at", "member", "user", "action"):
        op.create_index(f"ix_action_log_{column}", "action_log", [column])
    head = op.create_table(
        "action_log_head",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(), nullable=False),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": GENESIS}])


def downgrade() -> None:
    op.drop_table("action_log_head")
    for column in ("action", "user", "member", "at"):
        op.drop_index(f"ix_action_log_{column}", table_name="action_log")
    op.drop_table("action_log")
