"""The auditors' SQL views on PostgreSQL (docs/audit-sql.md): after a story through the API
(tokenise, split, sell, partial repayment, payout, freeze) a role made by `scf audit grant-sql`
reads every view, each view agrees with the API's answer to the same question, the documented
columns are the live ones, the documented example queries run, and the role is refused on
every table, on every write and on CREATE."""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from eth_utils.address import to_checksum_address
from psycopg import errors, sql
from typer.testing import CliRunner

from backend import audit_sql
from backend.audit_sql.examples import DOC, bind, example_queries
from backend.db import upgrade as upgrade_backend
from backend.keeper import run_once
from backend.settings import BackendSettings
from backend.tools.cli import app as scf
from indexer.db import downgrade as downgrade_mirror
from indexer.db import make_engine
from indexer.db import upgrade as upgrade_mirror
from tests.backend.conftest import YUAN, Api, invoice, make_api
from tests.backend.test_story import originate_and_finance

PG_ADMIN_DSN = os.environ.get("SCF_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
DAY = 86_400

pytestmark = pytest.mark.slow


def _dsn(name: str) -> str:
    return PG_ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    """One PostgreSQL database holding the mirror and the backend's tables, as in production."""
    name = f"scf_audit_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield name
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def api(database: str) -> Iterator[Api]:
    settings = BackendSettings(
        profile="embedded",
        database_url=_dsn(database),
        mirror_database_url=_dsn(database),
        master_key=base64.urlsafe_b64encode(os.urandom(32)).decode(),
        wait_timeout_seconds=30,
    )
    yield from make_api(settings)


@dataclass(frozen=True)
class Story:
    root: int
    kept: int
    passed: int
    pending_root: int
    offer: int


@pytest.fixture(scope="module")
def story(api: Api) -> Story:
    """Tokenise, split, sell, repay 300,000 of 1,000,000, let it run 40 days overdue (the keeper
    pays 30 % out to every holder), freeze tier 1's piece; one more invoice left unconfirmed."""
    a = api.addresses
    f = originate_and_finance(api)
    r = api.as_("tier2").post(
        "/v1/invoices?wait=true", json=invoice(a["tier2"], a["core"], "INV-2026-0002", 50_000)
    )
    assert r.status_code == 202, r.text
    pending_root = r.json()["invoice"]["root_id"]
    core = api.as_("core")
    r = core.post(f"/v1/payables/{f.root}/repay?wait=true", json={"amount": 300_000 * YUAN})
    assert r.status_code == 202, r.text
    api.rt.conn.advance_time(f.due + 40 * DAY - api.rt.conn.latest_timestamp())
    report = run_once(api.rt)
    assert report["overdue_marked"] == 1
    r = api.as_("regulator").post(
        f"/v1/regulator/pieces/{f.kept}/freeze?wait=true", json={"reason": "disputed delivery"}
    )
    assert r.status_code == 202, r.text
    assert api.rt.indexer is not None
    assert api.rt.indexer.wait_for_block(api.rt.conn.w3.eth.block_number)
    offers = api.as_("bank").get("/v1/offers").json()
    return Story(f.root, f.kept, f.passed, pending_root, offers[0]["offer_id"])


@dataclass(frozen=True)
class Auditor:
    role: str
    password: str
    dsn: str

    def connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.dsn, user=self.role, password=self.password, autocommit=True)

    def rows(self, query: str, params: Any = None) -> list[dict[str, Any]]:
        with self.connect() as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
            cur.execute(query, params)
            return cur.fetchall()


@pytest.fixture(scope="module")
def auditor(database: str, story: Story) -> Iterator[Auditor]:
    role = f"auditor_{uuid.uuid4().hex[:8]}"
    password = uuid.uuid4().hex
    result = CliRunner().invoke(
        scf,
        ["audit", "grant-sql", role, "--database-url", _dsn(database), "--password", password],
    )
    assert result.exit_code == 0, result.output
    assert f"role {role} created" in result.output
    yield Auditor(role, password, _dsn(database))
    with psycopg.connect(_dsn(database), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) and value.startswith("0x") else value


# -- the role reads every view, and each agrees with the API ---------------------------------


def test_the_granted_role_reads_every_view(auditor: Auditor, story: Story) -> None:
    for view in audit_sql.view_names():
        auditor.rows(f"SELECT * FROM {view} LIMIT 5")
    assert auditor.rows("SELECT version FROM audit.schema_version") == [
        {"version": audit_sql.VERSION}
    ]
    counts = {
        v: auditor.rows(f"SELECT count(*) AS n FROM {v}")[0]["n"]
        for v in ("audit.receivables", "audit.pieces", "audit.payouts", "audit.repayments")
    }
    assert counts == {
        "audit.receivables": 2,
        "audit.pieces": 4,
        "audit.payouts": 2,
        "audit.repayments": 1,
    }


def test_receivables_agree_with_the_api(api: Api, auditor: Auditor, story: Story) -> None:
    rows = auditor.rows("SELECT * FROM audit.receivables ORDER BY root_id")
    names = _names(api)
    for row in rows:
        expected = api.as_("auditor").get(f"/v1/audit/roots/{row['root_id']}").json()["root"]
        got = {k: _lower(row[k]) for k in expected if k in row}
        got["due_date"] = int(row["due_at"].timestamp())
        assert got == {k: _lower(v) for k, v in expected.items()}
        assert row["debtor_name"] == names[row["debtor"]]
        assert row["supplier_name"] == names[row["supplier"]]
        assert row["in_escrow"] == row["repaid"] - row["distributed"]
    by_id = {r["root_id"]: r for r in rows}
    assert by_id[story.root]["status"] == "overdue"
    assert by_id[story.root]["outstanding"] == 700_000 * YUAN
    assert by_id[story.pending_root]["status"] == "registered"
    assert by_id[story.pending_root]["outstanding"] == 0


def test_pieces_agree_with_the_api(api: Api, auditor: Auditor, story: Story) -> None:
    expected = api.as_("auditor").get("/v1/pieces", params={"limit": 500}).json()
    rows = auditor.rows("SELECT * FROM audit.pieces ORDER BY piece_id")
    names = _names(api)
    got = []
    for row in rows:
        piece = {k: _lower(row[k]) for k in expected[0] if k in row}
        piece["due_date"] = int(row["due_at"].timestamp())
        got.append(piece)
        assert row["holder_name"] == names[row["holder"]]
    assert got == [{k: _lower(v) for k, v in p.items()} for p in expected]
    by_id = {r["piece_id"]: r for r in rows}
    assert by_id[story.kept]["frozen"] is True
    assert by_id[story.root]["status"] == "split"
    assert (by_id[story.kept]["paid_out"], by_id[story.passed]["paid_out"]) == (
        180_000 * YUAN,
        120_000 * YUAN,
    )


def test_holdings_as_of_every_block_agree_with_the_api(
    api: Api, auditor: Auditor, story: Story
) -> None:
    head = api.rt.mirror_cursor()
    query = _doc_query("Holdings as of a block")
    for block in range(0, head + 1):
        expected = api.as_("auditor").get("/v1/audit/holdings", params={"block": block}).json()
        rows = auditor.rows(*bind(query, block=block))
        assert [(r["piece_id"], r["holder"], r["amount"]) for r in rows] == [
            (h["piece_id"], h["holder"].lower(), h["amount"]) for h in expected["holdings"]
        ]


def test_exposure_agrees_with_the_api(api: Api, auditor: Auditor, story: Story) -> None:
    body = api.as_("auditor").get("/v1/audit/exposure").json()
    debtors = auditor.rows("SELECT * FROM audit.debtor_outstanding ORDER BY debtor")
    assert [(d["debtor"], d["outstanding"], d["receivables"]) for d in debtors] == [
        (d["debtor"].lower(), d["outstanding"], d["receivables"]) for d in body["by_debtor"]
    ]
    exposure = auditor.rows("SELECT * FROM audit.exposure ORDER BY financier, debtor")
    assert [(e["financier"], e["debtor"], e["exposure"]) for e in exposure] == [
        (e["financier"].lower(), e["debtor"].lower(), e["exposure"]) for e in body["by_financier"]
    ]
    bank = api.addresses["bank"].lower()
    assert [(e["financier"], e["exposure"]) for e in exposure] == [(bank, 280_000 * YUAN)]
    assert exposure[0]["financier_name"] == _names(api)[bank]


def test_aging_agrees_with_the_api(api: Api, auditor: Auditor, story: Story) -> None:
    body = api.as_("auditor").get("/v1/audit/aging").json()
    as_of = datetime.fromtimestamp(body["as_of"], UTC)
    rows = auditor.rows("SELECT * FROM audit.aging_at(%s) ORDER BY root_id", (as_of,))
    assert [
        {
            **{k: _lower(r[k]) for k in ("root_id", "debtor", "debtor_name")},
            "due_date": int(r["due_at"].timestamp()),
            **{k: r[k] for k in ("days_past_due", "in_grace_period", "days_overdue", "bucket")},
            **{k: r[k] for k in ("outstanding", "status", "status_on_ledger")},
        }
        for r in rows
    ] == [{k: _lower(v) for k, v in r.items()} for r in body["receivables"]]
    assert [(r["root_id"], r["bucket"]) for r in rows] == [(story.root, "31-90")]
    buckets = auditor.rows(*bind(_doc_query("Aging buckets"), as_of=as_of.isoformat()))
    assert [(b["bucket"], b["receivables"], b["outstanding"]) for b in buckets] == [
        (b["bucket"], b["receivables"], b["outstanding"]) for b in body["buckets"]
    ]
    # the view judges by the wall clock, the same rows
    assert {r["root_id"] for r in auditor.rows("SELECT root_id FROM audit.aging")} == {story.root}


def test_events_agree_with_the_api(api: Api, auditor: Auditor, story: Story) -> None:
    expected = api.as_("auditor").get("/v1/audit/events", params={"limit": 500}).json()
    assert expected["next_cursor"] is None
    rows = auditor.rows("SELECT * FROM audit.events ORDER BY event_id")
    assert [
        (r["event_id"], r["block_number"], r["tx_hash"], r["log_index"], r["event"], r["args"])
        for r in rows
    ] == [
        (e["id"], e["block_number"], e["tx_hash"], e["log_index"], e["event"], e["args"])
        for e in expected["items"]
    ]
    bank = api.addresses["bank"]
    theirs = api.as_("auditor").get("/v1/audit/events", params={"party": bank, "limit": 500})
    parties = auditor.rows(
        "SELECT event_id, party_name FROM audit.event_parties WHERE party = %s ORDER BY event_id",
        (bank.lower(),),
    )
    assert [p["event_id"] for p in parties] == [e["id"] for e in theirs.json()["items"]]
    assert {p["party_name"] for p in parties} == {_names(api)[bank.lower()]}


def test_members_offers_and_cash_agree_with_the_api(
    api: Api, auditor: Auditor, story: Story
) -> None:
    members = api.as_("auditor").get("/v1/members", params={"limit": 500}).json()
    rows = {r["address"]: r for r in auditor.rows("SELECT * FROM audit.members")}
    assert {m["address"].lower() for m in members} == set(rows)
    for m in members:
        row = rows[m["address"].lower()]
        assert (row["roles"], row["status"], row["credit_limit"], row["credit_used"]) == (
            m["roles"],
            m["status"],
            m["credit_limit"],
            m["credit_used"],
        )
    directory = api.as_("auditor").get("/v1/directory").json()
    for entry in directory:
        row = rows[entry["address"].lower()]
        assert (row["name"], row["legal_name"], row["credit_code"], row["entity_id"]) == (
            entry["name"],
            entry["legal_name"],
            entry["credit_code"],
            entry["entity_id"],
        )

    offer = api.as_("bank").get(f"/v1/offers/{story.offer}").json()
    (row,) = auditor.rows("SELECT * FROM audit.offers WHERE offer_id = %s", (story.offer,))
    assert (row["piece_id"], row["financier"], row["price"], row["status"], row["seller"]) == (
        offer["piece_id"],
        offer["financier"].lower(),
        offer["price"],
        "accepted",
        offer["seller"].lower(),
    )
    assert int(row["expires_at"].timestamp()) == offer["expiry"]

    # cash against the chain itself (the API serves balances only beside a dev chain)
    token = api.rt.contracts.token.functions
    cash = {r["address"]: r for r in auditor.rows("SELECT * FROM audit.cash_balances")}
    for address, row in cash.items():
        assert row["balance"] == token.balanceOf(to_checksum_address(address)).call()
    sums = auditor.rows(
        "SELECT account, sum(change) AS total FROM audit.cash_movements GROUP BY account"
    )
    assert {s["account"]: s["total"] for s in sums} == {a: r["balance"] for a, r in cash.items()}
    escrow = api.rt.deployment.receivables.address.lower()
    assert cash[escrow]["name"] == "ledger escrow (Receivables)"
    # what repayments and payouts add up to is what the receivables and pieces say
    (sums_row,) = auditor.rows(
        "SELECT (SELECT sum(amount) FROM audit.repayments) AS repaid,"
        " (SELECT sum(amount) FROM audit.payouts) AS paid,"
        " (SELECT sum(repaid) FROM audit.receivables) AS repaid_r,"
        " (SELECT sum(paid_out) FROM audit.pieces) AS paid_p"
    )
    assert sums_row["repaid"] == sums_row["repaid_r"] == 300_000 * YUAN
    assert sums_row["paid"] == sums_row["paid_p"] == 300_000 * YUAN


# -- the documentation is the contract --------------------------------------------------------


def _documented_columns() -> dict[str, list[tuple[str, str]]]:
    views: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for line in DOC.read_text().splitlines():
        heading = re.match(r"^### `(audit\.\w+)`$", line)
        if heading:
            current = views.setdefault(heading.group(1), [])
            continue
        column = re.match(r"^\| `(\w+)` \| ([^|]+?) \|", line)
        if column and current is not None:
            current.append((column.group(1), column.group(2)))
    return views


def test_the_documented_columns_are_the_live_ones(auditor: Auditor) -> None:
    live: dict[str, list[tuple[str, str]]] = {}
    for r in auditor.rows(
        "SELECT n.nspname || '.' || c.relname AS view, a.attname AS column,"
        " format_type(a.atttypid, a.atttypmod) AS type"
        " FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'audit' AND c.relkind = 'v' AND a.attnum > 0"
        " ORDER BY c.relname, a.attnum"
    ):
        live.setdefault(r["view"], []).append((r["column"], r["type"]))
    assert _documented_columns() == live
    assert sorted(live) == sorted(audit_sql.view_names())


def _doc_query(starts: str) -> str:
    (query,) = [q for h, q in example_queries().items() if h.startswith(starts)]
    return query


def test_every_example_query_of_the_docs_runs_as_the_granted_role(
    api: Api, auditor: Auditor, story: Story
) -> None:
    queries = example_queries()
    assert len(queries) == 7
    bank = api.addresses["bank"]
    values = {
        "piece_id": story.passed,
        "root_id": story.root,
        "block": api.rt.mirror_cursor(),
        "member": bank,
        "as_of": "2030-01-01T00:00:00+00:00",
    }
    results = {h: auditor.rows(*bind(q, **values)) for h, q in queries.items()}
    assert all(results.values()), [h for h, rows in results.items() if not rows]

    line = results[next(h for h in results if h.startswith("Provenance"))]
    assert list(dict.fromkeys(r["piece_id"] for r in line)) == [story.passed, story.root]
    assert {r["holder_name"] for r in line if r["piece_id"] == story.passed} >= {
        _names(api)[bank.lower()]
    }

    cash = results[next(h for h in results if h.startswith("Cash movements"))]
    assert cash[-1]["balance"] == api.rt.contracts.token.functions.balanceOf(bank).call()
    assert cash[0]["kind"] == "minted"

    totals = results[next(h for h in results if h.startswith("Exposure"))]
    assert totals[-1]["debtor"] == "all debtors" and totals[-1]["exposure"] == 280_000 * YUAN

    history = results[next(h for h in results if h.startswith("Everything"))]
    assert {"ReceivableConfirmed", "PieceSplit", "Repaid", "PiecePaid", "PieceFrozen"} <= {
        r["event"] for r in history
    }


# -- and nothing else -------------------------------------------------------------------------


def _tables(database: str) -> list[str]:
    with psycopg.connect(_dsn(database)) as admin:
        return [
            r[0]
            for r in admin.execute(
                "SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) FROM pg_tables"
                " WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
            )
        ]


def test_the_role_is_refused_every_backend_and_mirror_table(
    database: str, auditor: Auditor
) -> None:
    tables = _tables(database)
    for must in ("public.custody_key", "public.api_key", "public.member_profile", "public.piece"):
        assert must in tables
    with auditor.connect() as conn:
        for table in tables:
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(f"SELECT 1 FROM {table} LIMIT 1")


def test_the_role_cannot_write_or_create_anything(auditor: Auditor, database: str) -> None:
    columns = _documented_columns()
    with auditor.connect() as conn:
        assert conn.execute("SHOW statement_timeout").fetchone() == ("5min",)
        assert conn.execute("SHOW default_transaction_read_only").fetchone() == ("on",)
        # and not for want of a read-write transaction: it has no right to. A view that is not
        # simple enough to write through is refused before its rights are looked at.
        writes = [
            statement
            for view in audit_sql.view_names()
            for statement in (
                f"DELETE FROM {view}",
                f"UPDATE {view} SET {columns[view][0][0]} = {columns[view][0][0]}",
                f"INSERT INTO {view} DEFAULT VALUES",
            )
        ]
        for statement in writes:
            refusal = _in_read_write(conn, statement)
            assert isinstance(
                refusal, errors.InsufficientPrivilege | errors.ObjectNotInPrerequisiteState
            ), statement
        for simple in ("audit.events", "audit.distributions"):
            refusal = _in_read_write(conn, f"DELETE FROM {simple}")
            assert isinstance(refusal, errors.InsufficientPrivilege), simple
        for statement in (
            "UPDATE public.piece SET amount = 0",
            "INSERT INTO public.custody_key DEFAULT VALUES",
            "CREATE TABLE audit.mine (x int)",
            "CREATE TABLE public.mine (x int)",
            "CREATE TEMPORARY TABLE mine (x int)",
            "CREATE VIEW audit.mine AS SELECT 1",
            "CREATE SCHEMA mine",
            "CREATE FUNCTION audit.mine() RETURNS int LANGUAGE sql AS 'SELECT 1'",
            "SELECT audit_admin.create_views()",
            "SELECT audit_admin.drop_views()",
            "DROP VIEW audit.exposure",
            "ALTER VIEW audit.exposure RENAME TO mine",
        ):
            assert isinstance(_in_read_write(conn, statement), errors.InsufficientPrivilege), (
                statement
            )


def _in_read_write(conn: psycopg.Connection[Any], statement: str) -> psycopg.Error | None:
    """The error `statement` raises in a read-write transaction (None: it ran)."""
    try:
        with conn.transaction():
            conn.execute("SET TRANSACTION READ WRITE")
            conn.execute(statement)
    except psycopg.Error as exc:
        return exc
    return None


def test_the_views_survive_a_mirror_migration_and_the_role_still_reads_them(
    database: str, auditor: Auditor, story: Story
) -> None:
    before = auditor.rows("SELECT * FROM audit.receivables ORDER BY root_id")
    engine = make_engine(_dsn(database))
    try:
        # 0006 added root.live_pieces, which audit.receivables reads: PostgreSQL refuses to
        # drop a column a view uses, unless the views are dropped first and made again after
        downgrade_mirror(engine, "0005")
        with psycopg.connect(_dsn(database)) as admin:
            assert admin.execute("SELECT to_regclass('audit.receivables')").fetchone() == (None,)
        upgrade_mirror(engine)
        upgrade_backend(engine)  # nothing to migrate: leaves the views alone
    finally:
        engine.dispose()
    assert auditor.rows("SELECT * FROM audit.receivables ORDER BY root_id") == before
    for view in audit_sql.view_names():
        auditor.rows(f"SELECT * FROM {view} LIMIT 1")


# -- scf audit grant-sql ---------------------------------------------------------------------


def _grant(*args: str) -> Any:
    return CliRunner().invoke(scf, ["audit", "grant-sql", *args])


def _verifier(database: str, role: str) -> str:
    with psycopg.connect(_dsn(database)) as admin:
        row = admin.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (role,))
        return str(row.fetchone()[0])  # type: ignore[index]


def test_grant_sql_updates_a_role_keeping_or_rotating_its_password(
    database: str, story: Story
) -> None:
    role = f"auditor_{uuid.uuid4().hex[:8]}"
    url = _dsn(database)
    try:
        first = _grant(role, "--database-url", url, "--json")
        assert first.exit_code == 0, first.output
        granted = json.loads(first.output)
        assert granted["created"] is True and len(granted["password"]) >= 24
        verifier = _verifier(database, role)
        assert verifier.startswith("SCRAM-SHA-256$") and granted["password"] not in verifier

        again = _grant(role, "--database-url", url, "--statement-timeout", "30s")
        assert again.exit_code == 0, again.output
        assert f"role {role} updated" in again.output and "password unchanged" in again.output
        assert _verifier(database, role) == verifier
        with psycopg.connect(url, user=role) as conn:
            assert conn.execute("SHOW statement_timeout").fetchone() == ("30s",)
            assert conn.execute("SELECT count(*) FROM receivables").fetchone() == (2,)

        rotated = _grant(role, "--database-url", url, "--rotate-password")
        assert rotated.exit_code == 0 and "password (shown once): " in rotated.output
        assert _verifier(database, role) != verifier
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_grant_sql_refuses_a_role_with_other_powers_and_bad_names(
    database: str, story: Story
) -> None:
    url = _dsn(database)
    superuser = _grant("postgres", "--database-url", url)
    assert superuser.exit_code == 1
    assert "role postgres is a superuser" in superuser.output
    bad = _grant("Auditor-1", "--database-url", url)
    assert bad.exit_code == 2 and "role name 'Auditor-1'" in bad.output
    timeout = _grant("auditor_x", "--database-url", url, "--statement-timeout", "forever")
    assert timeout.exit_code == 2 and "statement timeout 'forever'" in timeout.output
    with psycopg.connect(url) as admin:
        assert (
            admin.execute("SELECT 1 FROM pg_roles WHERE rolname = 'auditor_x'").fetchone() is None
        )


def test_grant_sql_needs_the_views(tmp_path: Path) -> None:
    sqlite = _grant("auditor_x", "--database-url", f"sqlite:///{tmp_path / 'backend.sqlite3'}")
    assert sqlite.exit_code == 2 and "needs PostgreSQL" in sqlite.output
    unmigrated = _grant("auditor_x", "--database-url", PG_ADMIN_DSN)
    assert unmigrated.exit_code == 2 and "the audit views are not in this database" in (
        unmigrated.output
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    unreachable = _grant("auditor_x", "--database-url", f"postgresql://postgres@127.0.0.1:{port}/x")
    assert unreachable.exit_code == 3 and "cannot reach the database" in unreachable.output


def test_the_views_appear_whichever_migrations_run_last() -> None:
    name = f"scf_audit_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    engine = make_engine(_dsn(name))
    try:
        upgrade_mirror(engine)
        with psycopg.connect(_dsn(name)) as conn:
            assert conn.execute("SELECT to_regnamespace('audit')").fetchone() == (None,)
        upgrade_backend(engine)  # the mirror ran first: the backend's migration makes them
        with psycopg.connect(_dsn(name)) as conn:
            views = conn.execute(
                "SELECT 'audit.' || viewname FROM pg_views WHERE schemaname = 'audit'"
            ).fetchall()
        assert sorted(v for (v,) in views) == sorted(audit_sql.view_names())
    finally:
        engine.dispose()
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_database_migrated_before_backend_0013_reads_cash_movements_by_party(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """0013 stores the views' functions again: a database whose stored body is older (here:
    one without audit.cash_movements at all) keeps it through mirror migrations, and has the
    new view, read through ledger_event_party and its party index, once 0013 has run."""
    name = f"scf_audit_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    engine = make_engine(_dsn(name))

    def cash_view() -> Any:
        with psycopg.connect(_dsn(name)) as conn:
            return conn.execute(
                "SELECT definition FROM pg_views"
                " WHERE schemaname = 'audit' AND viewname = 'cash_movements'"
            ).fetchone()

    try:
        upgrade_mirror(engine, "0007_cash_movements")
        older = [s for s in audit_sql.statements() if "audit.cash_movements" not in s]
        with monkeypatch.context() as m:
            m.setattr(audit_sql, "statements", lambda: older)
            upgrade_backend(engine, "0012_staff_users")
        assert cash_view() is None
        upgrade_mirror(engine)  # 0008, the party index: the stored body rebuilds the views
        assert cash_view() is None
        upgrade_backend(engine)
        found = cash_view()
        assert found is not None and "ledger_event_party" in found[0]
        with psycopg.connect(_dsn(name)) as conn:
            index = conn.execute("SELECT to_regclass('ix_ledger_event_party_party')").fetchone()
        assert index == ("ix_ledger_event_party_party",)
    finally:
        engine.dispose()
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _names(api: Api) -> dict[str, str]:
    return {p["address"].lower(): p["name"] for p in api.as_("auditor").get("/v1/directory").json()}
