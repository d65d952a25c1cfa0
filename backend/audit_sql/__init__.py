"""The auditors' SQL views (schema `audit`, PostgreSQL only): their definitions, one `.sql` file
per view in this folder, and how they are installed in the database.

The views read the mirror's tables and the backend's `member_profile`, which two migration sets
create, in either order. So the migration that installs them (backend `0009_audit_views`) only
stores two functions in the database, `audit_admin.create_views()` and
`audit_admin.drop_views()`; every migration run of either set (`indexer.db.Migrations`) drops
the views before migrating and creates them again after, in the same transaction. A mirror
migration can change any column, and the views come back over the new tables; they are created
once both sets of tables are there, and skipped (with a warning) before.

Each file is one view (`17_aging.sql` also its function), in the order they are created; a
`{{...}}` placeholder is filled from `chain.enums`, so that the words for the contracts' enum
values are written once:
`{{RootStatus(r.status)}}` the status as a word ('confirmed'), `{{RootStatus.CONFIRMED}}` its
number, `{{Role(m.roles)}}` the role names as a text[], `{{Role.FINANCIER}}` a role's bit,
`{{VERSION}}`, `{{ZERO_ADDRESS}}`.
"""

from __future__ import annotations

import re
from enum import IntEnum, IntFlag
from pathlib import Path

from sqlalchemy import Connection, text

from chain.enums import MemberStatus, OfferStatus, PieceStatus, Role, RootStatus

#: The views' version (`audit.schema_version`): raise it with every change of a view's columns.
VERSION = 1
SCHEMA = "audit"
ADMIN_SCHEMA = "audit_admin"
SQL_DIR = Path(__file__).resolve().parent
ZERO_ADDRESS = "0x" + "00" * 20
#: Two processes migrating at once (`scf serve` and `scf index` on a first start) take turns.
_LOCK = "PERFORM pg_advisory_xact_lock(hashtext('scf-ledger audit views'))"
#: Tables the views read: without every one of them there are no views yet.
NEEDS = (
    "member_profile",
    "indexer_state",
    "ledger_event",
    "ledger_event_party",
    "member",
    "root",
    "piece",
    "offer",
    "cash_balance",
    "holding",
    "repayment",
    "piece_payment",
    "distribution",
    "ledger_status",
)
ENUMS: dict[str, type[IntEnum]] = {
    e.__name__: e for e in (MemberStatus, RootStatus, PieceStatus, OfferStatus)
}
ROLES = tuple(r for r in Role if r.name and r.name not in ("ALL", "HOLDER"))
_PLACEHOLDER = re.compile(r"\{\{(\w+)(?:\.(\w+)|\(([^{}()]*)\))?\}\}")


def _as_word(enum: type[IntEnum], expr: str) -> str:
    cases = " ".join(f"WHEN {int(m)} THEN '{m.name.lower()}'" for m in enum)
    return f"(CASE {expr} {cases} END)"


def _role_names(expr: str) -> str:
    bits = ", ".join(f"({int(r)}, '{r.name}')" for r in ROLES)
    return (
        f"ARRAY(SELECT r.name FROM (VALUES {bits}) AS r(bit, name)"
        f" WHERE ({expr} & r.bit) <> 0 ORDER BY r.bit)"
    )


def _fill(match: re.Match[str]) -> str:
    name, member, expr = match.groups()
    if name == "VERSION":
        return str(VERSION)
    if name == "ZERO_ADDRESS":
        return ZERO_ADDRESS
    enum: type[IntEnum] | type[IntFlag] = Role if name == "Role" else ENUMS[name]
    if member is not None:
        return str(int(enum[member]))
    if expr is None:
        raise ValueError(f"placeholder {match.group(0)} needs .MEMBER or (expression)")
    return _role_names(expr) if enum is Role else _as_word(ENUMS[name], expr)


def render(sql: str) -> str:
    return _PLACEHOLDER.sub(_fill, sql)


def files() -> list[Path]:
    return sorted(SQL_DIR.glob("*.sql"))


def statements() -> list[str]:
    """Every view's CREATE statement, placeholders filled, in creation order."""
    return [render(f.read_text()).strip().rstrip(";") for f in files()]


def view_names() -> list[str]:
    """The views, as `audit.name`, in creation order."""
    found = re.findall(r"CREATE VIEW (audit\.\w+)", "\n".join(statements()))
    return list(found)


def _create_function() -> str:
    present = " AND ".join(f"to_regclass('{t}') IS NOT NULL" for t in NEEDS)
    body = ";\n    ".join(statements())
    return f"""
CREATE OR REPLACE FUNCTION {ADMIN_SCHEMA}.create_views() RETURNS boolean
LANGUAGE plpgsql AS $create$
BEGIN
    {_LOCK};
    IF NOT ({present}) THEN
        RETURN false;  -- the other migration set has not run yet: it calls this again
    END IF;
    PERFORM {ADMIN_SCHEMA}.drop_views();
    {body};
    RETURN true;
EXCEPTION WHEN undefined_table OR undefined_column THEN
    -- a mirror older than these views (a downgrade): the next upgrade creates them
    RAISE WARNING 'audit views not created: %', SQLERRM;
    RETURN false;
END
$create$"""


_DROP_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {ADMIN_SCHEMA}.drop_views() RETURNS void
LANGUAGE plpgsql AS $drop$
DECLARE
    item record;
BEGIN
    {_LOCK};
    FOR item IN SELECT viewname FROM pg_views WHERE schemaname = '{SCHEMA}' LOOP
        EXECUTE format('DROP VIEW IF EXISTS {SCHEMA}.%I CASCADE', item.viewname);
    END LOOP;
    FOR item IN SELECT p.oid::regprocedure AS fn FROM pg_proc p
                JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = '{SCHEMA}' LOOP
        EXECUTE format('DROP FUNCTION IF EXISTS %s CASCADE', item.fn);
    END LOOP;
END
$drop$"""


def install(conn: Connection) -> None:
    """Create the schemas and store the two functions (the migration's upgrade). The schema
    `audit` is never dropped by them: the auditors' grants and default privileges live on it."""
    conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
    conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {ADMIN_SCHEMA}"))
    conn.execute(text(f"REVOKE ALL ON SCHEMA {ADMIN_SCHEMA} FROM PUBLIC"))
    conn.execute(text(_DROP_FUNCTION))
    conn.execute(text(_create_function()))
    for fn in ("drop_views()", "create_views()"):
        conn.execute(text(f"REVOKE ALL ON FUNCTION {ADMIN_SCHEMA}.{fn} FROM PUBLIC"))


def uninstall(conn: Connection) -> None:
    conn.execute(text(f"DROP SCHEMA IF EXISTS {ADMIN_SCHEMA} CASCADE"))
    conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
