"""Alembic environment for the indexer's mirror tables; see `indexer.db.upgrade`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from indexer.db import VERSION_TABLE
from indexer.models import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from indexer.db import make_engine
    from indexer.settings import IndexerSettings

    engine = make_engine(IndexerSettings().database_url)
    with engine.begin() as conn:
        _run(conn)


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; use indexer.db.upgrade")
run_migrations_online()
