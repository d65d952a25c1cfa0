"""the auditors' SQL views (issue 14): schema `audit`, created over the mirror and the directory

Stores `audit_admin.create_views()` and `audit_admin.drop_views()` (PostgreSQL only: the
embedded profile's SQLite files have no views); `indexer.db.Migrations` calls them around every
migration run of either set, so the views are created once the mirror and `member_profile`
are both there, whichever set ran last, and rebuilt after a mirror migration. A new version
of the views is a new migration calling `install` again.

Revision ID: 0009_audit_views
Revises: 0008_attachments
Create Date: 2026-12-02 17:00:00

"""

from collections.abc import Sequence

from alembic import op

from backend import audit_sql

revision: str = "0009_audit_views"
down_revision: str | Sequence[str] | None = "0008_attachments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        audit_sql.install(conn)


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        audit_sql.uninstall(conn)
