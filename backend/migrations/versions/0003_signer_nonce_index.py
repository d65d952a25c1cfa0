"""the nonce floor's index: a signer's highest stored nonce, read from the index's end

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 15:00:00

"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_tx_request_signer_nonce", "tx_request", ["signer", "nonce"])


def downgrade() -> None:
    op.drop_index("ix_tx_request_signer_nonce", table_name="tx_request")
