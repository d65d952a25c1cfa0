"""The migrations build exactly the schema the models declare (a model change without its
migration, or the reverse, fails here), on PostgreSQL and on SQLite."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, MetaData

from backend.db import upgrade as upgrade_backend
from backend.models import backend_metadata
from indexer.db import make_engine
from indexer.db import upgrade as upgrade_mirror
from indexer.models import metadata as mirror_metadata


def _drift(engine: Engine, metadata: MetaData) -> list[Any]:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                # each schema's migrations own its tables only (both share one database)
                "include_name": lambda name, type_, _parent: (
                    type_ != "table" or name in metadata.tables
                ),
            },
        )
        return list(compare_metadata(context, metadata))


def _check(engine: Engine) -> None:
    upgrade_mirror(engine)
    upgrade_backend(engine)
    assert _drift(engine, mirror_metadata) == []
    assert _drift(engine, backend_metadata) == []


def test_migrations_match_the_models_on_postgres(pg_database: Callable[[], str]) -> None:
    engine = make_engine(pg_database())
    try:
        _check(engine)
    finally:
        engine.dispose()


def test_migrations_match_the_models_on_sqlite(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/schema.sqlite3")
    try:
        _check(engine)
    finally:
        engine.dispose()
