"""client-signed transaction requests: awaiting_signature / expired, the prepared transaction

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 12:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("tx_request") as batch:
        batch.alter_column("status", existing_type=sa.String(length=16), type_=sa.String(length=24))
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("unsigned_tx", JSON, nullable=True))
    # the expiry sweep and the signer's next-nonce lookup
    op.create_index("ix_tx_request_signer_status", "tx_request", ["signer", "status"])


def downgrade() -> None:
    op.drop_index("ix_tx_request_signer_status", table_name="tx_request")
    with op.batch_alter_table("tx_request") as batch:
        batch.drop_column("unsigned_tx")
        batch.drop_column("expires_at")
        batch.alter_column("status", existing_type=sa.String(length=24), type_=sa.String(length=16))
