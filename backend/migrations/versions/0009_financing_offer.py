"""which financing request an offer answers (issue 12)

Revision ID: 0009_financing_offer
Revises: 0005_member_directory
Create Date: 2026-12-02 17:40:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_financing_offer"
down_revision: str | Sequence[str] | None = "0005_member_directory"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "financing_offer",
        sa.Column("offer_id", sa.BigInteger(), autoincrement=False, primary_key=True),
        sa.Column("financing_request_id", sa.Integer(), nullable=False),
    )
    op.create_index(
        "ix_financing_offer_financing_request_id", "financing_offer", ["financing_request_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_financing_offer_financing_request_id", table_name="financing_offer")
    op.drop_table("financing_offer")
