"""The backend's engine, sessions and schema migrations (Alembic, run programmatically)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, Table
from sqlmodel import Session, SQLModel

from indexer.db import Migrations, make_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "backend_alembic_version"

__all__ = ["insert_new", "make_engine", "session_scope", "upgrade"]


BACKEND = Migrations(MIGRATIONS_DIR, VERSION_TABLE)
upgrade = BACKEND.upgrade


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session committed on success, rolled back on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def insert_new(session: Session, row: SQLModel) -> None:
    """INSERT `row` in the session's transaction with one Core statement, reading back a key
    the database generates. The ORM's flush costs a write request about as much CPU as all of
    its other SQL; `row` stays outside the session, as a value."""
    table: Table = type(row).__table__  # type: ignore[attr-defined]
    values = {c.key: getattr(row, c.key) for c in table.columns}
    generated = [c for c in table.primary_key.columns if values[c.key] is None]
    for column in generated:
        del values[column.key]
    if generated:
        stmt = table.insert().returning(*generated)
        keys = session.connection().execute(stmt, values).one()
        for column, key in zip(generated, keys, strict=True):
            setattr(row, column.key, key)
    else:
        session.connection().execute(table.insert(), values)
