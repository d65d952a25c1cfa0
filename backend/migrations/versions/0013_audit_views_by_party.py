"""the auditors' views again: audit.cash_movements reads through ledger_event_party

The views' bodies live in the function `audit_admin.create_views()` that 0009 stored; a
database migrated before this change would rebuild the old body after every mirror migration.
Storing the functions again puts the new body there (the views' columns are unchanged: still
version 1), and the migration run around this revision rebuilds the views with it.

Revision ID: 0013_audit_views_by_party
Revises: 0012_staff_users
Create Date: 2026-12-03 11:30:00

"""

from collections.abc import Sequence

from alembic import op

from backend import audit_sql

revision: str = "0013_audit_views_by_party"
down_revision: str | Sequence[str] | None = "0012_staff_users"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        audit_sql.install(conn)


def downgrade() -> None:
    # the earlier body is not kept anywhere; the new one reads only tables 0009 already needed
    pass
