"""Read-only PostgreSQL roles for auditors (`scf audit grant-sql`): SELECT on the views of
schema `audit`, nothing else.

The views belong to the role that ran the migrations, so they read the mirror and the
directory with its rights; the auditor's role holds no right on any table, cannot write, and
cannot create anything (PostgreSQL 15 still lets PUBLIC create temporary tables: revoked)."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any, cast

import psycopg
from psycopg import sql
from sqlalchemy import Connection

from backend.audit_sql import SCHEMA, VERSION
from backend.errors import Conflict, InvalidInput, NotFound

#: Lower-case SQL identifiers only: a role name that needs quoting is a typo more often than not.
ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
TIMEOUT = re.compile(r"^[1-9][0-9]*(ms|s|min|h)?$")
DEFAULT_STATEMENT_TIMEOUT = "5min"
CONNECTION_LIMIT = 10


@dataclass(frozen=True)
class Granted:
    role: str
    created: bool
    password: str | None  # set now (print it once), or None: unchanged
    views_owner: str
    version: int


def _raw(conn: Connection) -> psycopg.Connection[Any]:
    """The psycopg connection underneath: it quotes identifiers and hashes passwords."""
    if conn.dialect.name != "postgresql":
        raise InvalidInput(
            "SQL access for auditors needs PostgreSQL: the audit views do not exist on"
            f" {conn.dialect.name} (the embedded profile)",
            code="AuditViewsNeedPostgres",
        )
    return cast("psycopg.Connection[Any]", conn.connection.dbapi_connection)


def _refuse_powerful(conn: Connection, role: str) -> None:
    """An existing role is turned into an auditor only if that takes nothing from anyone."""
    row = conn.exec_driver_sql(
        "SELECT r.rolsuper OR r.rolcreaterole OR r.rolcreatedb OR r.rolreplication"
        " OR r.rolbypassrls, r.rolname = current_user,"
        " EXISTS (SELECT 1 FROM pg_auth_members m WHERE m.member = r.oid),"
        " EXISTS (SELECT 1 FROM pg_class c WHERE c.relowner = r.oid)"
        " OR EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspowner = r.oid)"
        " OR EXISTS (SELECT 1 FROM pg_proc p WHERE p.proowner = r.oid)"
        " FROM pg_roles r WHERE r.rolname = %(role)s",
        {"role": role},
    ).one()
    powerful, is_me, member, owner = row
    why = (
        "is a superuser or may create roles or databases"
        if powerful
        else "is the role this command runs as"
        if is_me
        else "is a member of other roles (it would keep their rights)"
        if member
        else "owns tables, schemas or functions in this database"
        if owner
        else None
    )
    if why:
        raise Conflict(
            f"role {role} {why}: an auditor's role must hold nothing but read access to the"
            " audit views; choose another name",
            code="RoleNotGrantable",
            details={"role": role},
        )


def grant_reader(
    conn: Connection,
    *,
    role: str,
    password: str | None = None,
    rotate_password: bool = False,
    statement_timeout: str = DEFAULT_STATEMENT_TIMEOUT,
) -> Granted:
    """Create (or bring up to date) `role`: LOGIN, read-only, SELECT on the audit views only.
    A new role gets `password` or a random one; an existing one keeps its password unless
    given one or told to rotate it. The caller commits."""
    if not ROLE_NAME.match(role):
        raise InvalidInput(
            f"role name {role!r}: lower-case letters, digits and _, not starting with a digit,"
            " at most 63 characters",
            code="BadRoleName",
            details={"role": role},
        )
    if not TIMEOUT.match(statement_timeout):
        raise InvalidInput(
            f"statement timeout {statement_timeout!r}: a number with ms, s, min or h",
            code="BadTimeout",
        )
    raw = _raw(conn)
    owner = conn.exec_driver_sql(
        "SELECT pg_get_userbyid(n.nspowner) FROM pg_namespace n"
        " WHERE n.nspname = %(s)s AND to_regclass(%(v)s) IS NOT NULL",
        {"s": SCHEMA, "v": f"{SCHEMA}.schema_version"},
    ).scalar()
    if owner is None:
        raise NotFound(
            "the audit views are not in this database: run the migrations (scf serve or"
            " scf index) with the mirror and the backend's tables in this one database",
            code="AuditViewsMissing",
        )
    exists = conn.exec_driver_sql(
        "SELECT 1 FROM pg_roles WHERE rolname = %(role)s", {"role": role}
    ).scalar()
    if exists:
        _refuse_powerful(conn, role)
    if password is None and (not exists or rotate_password):
        password = secrets.token_urlsafe(24)

    def run(statement: sql.Composable) -> None:
        conn.exec_driver_sql(statement.as_string(raw))

    name = sql.Identifier(role)
    db = sql.Identifier(str(conn.exec_driver_sql("SELECT current_database()").scalar()))
    schema = sql.Identifier(SCHEMA)
    attrs = sql.SQL(
        "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT"
        f" CONNECTION LIMIT {CONNECTION_LIMIT}"
    )
    run(sql.SQL("{} ROLE {} {}").format(sql.SQL("ALTER" if exists else "CREATE"), name, attrs))
    if password is not None:
        # Only the SCRAM verifier reaches the server (and any statement log), as with psql's
        # \password.
        verifier = raw.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256")
        run(sql.SQL("ALTER ROLE {} PASSWORD {}").format(name, sql.Literal(verifier.decode())))
    for setting, value in (
        ("statement_timeout", statement_timeout),
        ("idle_in_transaction_session_timeout", "10min"),
        ("default_transaction_read_only", "on"),
        ("search_path", SCHEMA),
    ):
        run(sql.SQL("ALTER ROLE {} SET {} = {}").format(name, sql.SQL(setting), sql.Literal(value)))
    # PUBLIC's defaults that would let any role create something: temporary tables in the
    # database (PostgreSQL 15 still gives it), tables in `public` (given before 15).
    run(sql.SQL("REVOKE TEMPORARY ON DATABASE {} FROM PUBLIC").format(db))
    run(sql.SQL("GRANT TEMPORARY ON DATABASE {} TO CURRENT_USER").format(db))
    run(sql.SQL("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))
    run(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(db, name))
    run(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, name))
    run(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(schema, name))
    run(sql.SQL("GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA {} TO {}").format(schema, name))
    # The migrations drop and create the views again: what their owner creates in the schema
    # later is readable by the auditor too.
    for kind, right in (("TABLES", "SELECT"), ("FUNCTIONS", "EXECUTE")):
        run(
            sql.SQL(
                "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} GRANT {} ON {} TO {}"
            ).format(sql.Identifier(owner), schema, sql.SQL(right), sql.SQL(kind), name)
        )
    return Granted(
        role=role, created=not exists, password=password, views_owner=owner, version=VERSION
    )
