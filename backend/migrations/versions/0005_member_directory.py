"""the member directory (issue 14): legal and short names, credit code, contact

Revision ID: 0005_member_directory
Revises: 0004_auth_limits
Create Date: 2026-12-02 17:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_member_directory"
down_revision: str | Sequence[str] | None = "0004_auth_limits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "member_profile",
        sa.Column("address", sa.String(), primary_key=True),
        sa.Column("legal_name", sa.String(), nullable=False),
        sa.Column("short_name", sa.String(), nullable=True),
        sa.Column("credit_code", sa.String(), nullable=False),
        sa.Column("contact_email", sa.String(), nullable=True),
        sa.Column("contact_phone", sa.String(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_member_profile_credit_code", "member_profile", ["credit_code"])


def downgrade() -> None:
    op.drop_index("ix_member_profile_credit_code", table_name="member_profile")
    op.drop_table("member_profile")
