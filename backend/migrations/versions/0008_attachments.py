"""documents behind a receivable (issue 14): uploads held for their uploader, and the
attachments of each invoice (covered by the ledger's invoice hash, or supplementary)

Revision ID: 0008_attachments
Revises: 0007_activation
Create Date: 2026-12-02 18:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_attachments"
down_revision: str | Sequence[str] | None = "0007_activation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "upload",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("sha256", sa.String(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("content_type", sa.String(), nullable=False),
        sa.Column("file_name", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("owner", "sha256", name="uq_upload_owner_sha256"),
    )
    op.create_index("ix_upload_owner", "upload", ["owner"])
    op.create_index("ix_upload_sha256", "upload", ["sha256"])
    op.create_index("ix_upload_created_at", "upload", ["created_at"])
    op.create_table(
        "invoice_attachment",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("content_type", sa.String(), nullable=False),
        sa.Column("file_name", sa.String(), nullable=False),
        sa.Column("covered", sa.Boolean(), nullable=False),
        sa.Column("added_by", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("invoice_id", "sha256", name="uq_invoice_attachment"),
    )
    op.create_index("ix_invoice_attachment_invoice_id", "invoice_attachment", ["invoice_id"])
    op.create_index("ix_invoice_attachment_sha256", "invoice_attachment", ["sha256"])


def downgrade() -> None:
    op.drop_index("ix_invoice_attachment_sha256", table_name="invoice_attachment")
    op.drop_index("ix_invoice_attachment_invoice_id", table_name="invoice_attachment")
    op.drop_table("invoice_attachment")
    op.drop_index("ix_upload_created_at", table_name="upload")
    op.drop_index("ix_upload_sha256", table_name="upload")
    op.drop_index("ix_upload_owner", table_name="upload")
    op.drop_table("upload")
