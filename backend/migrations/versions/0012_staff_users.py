"""staff users, approval policies and approvals (issue 15): a member's people, and four eyes on
its commitments

Revision ID: 0012_staff_users
Revises: 0011_action_log
Create Date: 2026-12-03 11:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0012_staff_users"
down_revision: str | Sequence[str] | None = "0011_action_log"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "staff_user",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("member", sa.String(), nullable=False, index=True),
        sa.Column("login", sa.String(), nullable=False, unique=True),
        sa.Column("display_name", sa.String(), nullable=False),
        sa.Column("permissions", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False),
        sa.Column("amount_limit", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(), nullable=False),
        sa.Column("must_change_password", sa.Boolean(), nullable=False),
        sa.Column("totp_nonce", sa.LargeBinary(), nullable=False),
        sa.Column("totp_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("totp_last_step", sa.BigInteger(), nullable=True),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", sa.String(), nullable=True),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "approval_policy",
        sa.Column("member", sa.String(), primary_key=True),
        sa.Column("action", sa.String(), primary_key=True),
        sa.Column("approvers", sa.Integer(), nullable=False),
        sa.Column("above_amount", sa.BigInteger(), nullable=False),
        sa.Column("approver_permission", sa.String(), nullable=False),
        sa.Column("updated_by", sa.String(), nullable=True),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "tx_approval",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("request_id", sa.String(), nullable=False, index=True),
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("login", sa.String(), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("action_hash", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=True),
        sa.Column("at", TS, nullable=False),
        sa.UniqueConstraint("request_id", "user_id", name="uq_tx_approval_user"),
    )
    with op.batch_alter_table("api_key") as batch:
        batch.add_column(sa.Column("user_id", sa.String(), nullable=True))
        batch.create_index("ix_api_key_user_id", ["user_id"])
    with op.batch_alter_table("tx_request") as batch:
        batch.add_column(sa.Column("made_by", sa.String(), nullable=True))
        batch.add_column(
            sa.Column("approvals_required", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("maker_id", sa.String(), nullable=True))
        batch.add_column(sa.Column("action_hash", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tx_request") as batch:
        for column in ("action_hash", "maker_id", "approvals_required", "made_by"):
            batch.drop_column(column)
    with op.batch_alter_table("api_key") as batch:
        batch.drop_index("ix_api_key_user_id")
        batch.drop_column("user_id")
    op.drop_table("tx_approval")
    op.drop_table("approval_policy")
    op.drop_table("staff_user")
