"""activation codes (issue 13): onboarding hands out a one-time code, not the member's key

Revision ID: 0007_activation
Revises: 0006_financing_offer
Create Date: 2026-12-02 17:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_activation"
down_revision: str | Sequence[str] | None = "0006_financing_offer"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "activation_code",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("address", sa.String(), nullable=False),
        sa.Column("secret_hash", sa.String(), nullable=False),
        sa.Column("issued_by", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("replaced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("api_key_id", sa.String(), nullable=True),
    )
    op.create_index("ix_activation_code_address", "activation_code", ["address"])


def downgrade() -> None:
    op.drop_index("ix_activation_code_address", table_name="activation_code")
    op.drop_table("activation_code")
