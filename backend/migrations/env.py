"""Alembic environment for the backend's own tables; see `backend.db.upgrade`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from backend.db import VERSION_TABLE
from backend.models import backend_metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=backend_metadata,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=lambda name, type_, _parent: (
            type_ != "table" or name in backend_metadata.tables
        ),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        raise SystemExit("run migrations through backend.db.upgrade")
    _run(connection)


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; use backend.db.upgrade")
run_migrations_online()
