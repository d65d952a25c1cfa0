"""Engines and schema migrations for the mirror (Alembic, run programmatically)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "indexer_alembic_version"
#: Views that another package keeps over these tables (the backend's SQL views for auditors,
#: `backend/audit_sql`) would stop a migration that changes a column they read. On PostgreSQL
#: a migration run drops them first and creates them again last, in its transaction, through
#: functions their owner stored in the database (when it has: nothing is known of it here).
DROP_DEPENDENT_VIEWS = "audit_admin.drop_views()"
CREATE_DEPENDENT_VIEWS = "audit_admin.create_views()"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url`; SQLite files get WAL, a busy timeout and their directory created."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {"timeout": 30, "check_same_thread": False})
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            if database and database != ":memory:":
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() in ("", "psycopg2"):
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


@dataclass(frozen=True)
class Migrations:
    """One package's Alembic scripts and version table, run programmatically (no alembic CLI):
    the mirror's here, the backend's in `backend.db`, side by side in one database."""

    directory: Path
    version_table: str

    def config(self) -> Config:
        cfg = Config()
        cfg.set_main_option("script_location", str(self.directory))
        cfg.set_main_option("version_table", self.version_table)
        return cfg

    def upgrade(self, engine: Engine, revision: str = "head") -> None:
        """Bring the tables up to `revision`."""
        self._run(command.upgrade, engine, revision)

    def downgrade(self, engine: Engine, revision: str = "base") -> None:
        self._run(command.downgrade, engine, revision)

    def _run(self, step: Callable[[Config, str], None], engine: Engine, revision: str) -> None:
        cfg = self.config()
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            changes = self._changes(cfg, conn, revision)
            if changes:
                _call_if_stored(conn, DROP_DEPENDENT_VIEWS)
            step(cfg, revision)
            if changes:
                _call_if_stored(conn, CREATE_DEPENDENT_VIEWS)

    def _changes(self, cfg: Config, conn: Connection, revision: str) -> bool:
        """Whether going to `revision` runs any migration (a start with nothing to migrate
        leaves the dependent views alone)."""
        context = MigrationContext.configure(conn, opts={"version_table": self.version_table})
        current = set(context.get_current_heads())
        if revision == "head":
            return current != set(ScriptDirectory.from_config(cfg).get_heads())
        return current != ({revision} - {"base"})


def _call_if_stored(conn: Connection, function: str) -> None:
    if conn.dialect.name != "postgresql":
        return
    if conn.execute(text("SELECT to_regprocedure(:f)"), {"f": function}).scalar() is not None:
        conn.execute(text(f"SELECT {function}"))


MIRROR = Migrations(MIGRATIONS_DIR, VERSION_TABLE)
upgrade = MIRROR.upgrade
downgrade = MIRROR.downgrade
