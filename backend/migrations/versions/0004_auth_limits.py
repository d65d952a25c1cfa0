"""auth and limits (issue 13): API key expiry, the token denylist, the challenge purge's index

Revision ID: 0004_auth_limits
Revises: 0003
Create Date: 2026-12-02 15:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_auth_limits"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_key") as batch:
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "revoked_token",
        sa.Column("jti", sa.String(), primary_key=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_revoked_token_expires_at", "revoked_token", ["expires_at"])
    op.create_index("ix_login_challenge_expires_at", "login_challenge", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_login_challenge_expires_at", table_name="login_challenge")
    op.drop_index("ix_revoked_token_expires_at", table_name="revoked_token")
    op.drop_table("revoked_token")
    with op.batch_alter_table("api_key") as batch:
        batch.drop_column("expires_at")
