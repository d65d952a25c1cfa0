"""notifications (issue 14): the cursor over ledger events, notifications, the e-mail
preference, webhook endpoints, deliveries and their attempts

Revision ID: 0010_notifications
Revises: 0009_audit_views
Create Date: 2026-12-02 17:30:00

"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010_notifications"
down_revision: str | Sequence[str] | None = "0009_audit_views"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _ts(name: str, *, nullable: bool) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "notify_cursor",
        sa.Column("chain_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(), nullable=True),
        sa.Column("log_index", sa.Integer(), nullable=True),
        _ts("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("chain_id"),
    )
    op.create_table(
        "notification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member", sa.String(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("ref", sa.String(), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("message", sa.String(), nullable=False),
        sa.Column("data", _json(), nullable=False),
        sa.Column("tx_hash", sa.String(), nullable=True),
        sa.Column("block_number", sa.BigInteger(), nullable=True),
        _ts("created_at", nullable=False),
        _ts("read_at", nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("member", "kind", "ref", name="uq_notification_key"),
    )
    op.create_index("ix_notification_member_id", "notification", ["member", "id"])
    op.create_table(
        "notification_preference",
        sa.Column("member", sa.String(), nullable=False),
        sa.Column("email_enabled", sa.Boolean(), nullable=False),
        sa.Column("email", sa.String(), nullable=True),
        sa.Column("kinds", _json(), nullable=False),
        _ts("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("member"),
    )
    op.create_table(
        "webhook_endpoint",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("member", sa.String(), nullable=False),
        sa.Column("url", sa.String(), nullable=False),
        sa.Column("kinds", _json(), nullable=False),
        sa.Column("description", sa.String(), nullable=True),
        sa.Column("secret_nonce", sa.LargeBinary(), nullable=False),
        sa.Column("secret_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("failures_in_a_row", sa.Integer(), nullable=False),
        _ts("disabled_at", nullable=True),
        sa.Column("disabled_reason", sa.String(), nullable=True),
        _ts("created_at", nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_webhook_endpoint_member", "webhook_endpoint", ["member"])
    op.create_table(
        "notification_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=False),
        sa.Column("member", sa.String(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("endpoint_id", sa.String(), nullable=True),
        sa.Column("recipient", sa.String(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _ts("next_attempt_at", nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(), nullable=True),
        _ts("delivered_at", nullable=True),
        _ts("created_at", nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_notification_delivery_notification_id", "notification_delivery", ["notification_id"]
    )
    op.create_index(
        "ix_notification_delivery_due", "notification_delivery", ["status", "next_attempt_at"]
    )
    op.create_index(
        "ix_notification_delivery_endpoint", "notification_delivery", ["endpoint_id", "id"]
    )
    op.create_table(
        "delivery_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        _ts("attempted_at", nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_delivery_attempt_delivery_id", "delivery_attempt", ["delivery_id"])


def downgrade() -> None:
    op.drop_index("ix_delivery_attempt_delivery_id", table_name="delivery_attempt")
    op.drop_table("delivery_attempt")
    for name in (
        "ix_notification_delivery_endpoint",
        "ix_notification_delivery_due",
        "ix_notification_delivery_notification_id",
    ):
        op.drop_index(name, table_name="notification_delivery")
    op.drop_table("notification_delivery")
    op.drop_index("ix_webhook_endpoint_member", table_name="webhook_endpoint")
    op.drop_table("webhook_endpoint")
    op.drop_table("notification_preference")
    op.drop_index("ix_notification_member_id", table_name="notification")
    op.drop_table("notification")
    op.drop_table("notify_cursor")
