"""Writing the mirror: one database transaction per batch, bulk inserts, and rollback.

A batch's raw events, derived rows, undo journal, block hashes and the cursor are written in
the same transaction, so a crash at any moment leaves the mirror at the previous cursor exactly;
the cursor update is conditional on its previous value, so two writers can never both commit.

Rollback on a fork uses the undo journal (prior images of derived rows, recorded per block for
blocks inside the reorg window) rather than re-deriving entities by replaying their history:
restoring a prior image is exact and O(rows changed above the fork), whereas a replay would
have to find every entity a dropped event touched and re-read its whole history (a cash balance
is the sum of every transfer ever made). Append-only rows are simply cut at the fork.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Connection,
    Engine,
    Table,
    any_,
    bindparam,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from indexer import handlers
from indexer.decode import DecodedEvent, args_json, json_args
from indexer.errors import IndexerError, ReorgTooDeep, WriterLockError
from indexer.fetch import Header
from indexer.handlers import LEDGER_KEY, TABLE_KEYS, Key, Ledger, Row
from indexer.models import metadata

log = logging.getLogger(__name__)

_IN_CHUNK = 500
_COPY_UPSERT_MIN = 64
EVENT_COLUMNS = (
    "chain_id",
    "block_number",
    "block_hash",
    "tx_hash",
    "tx_index",
    "log_index",
    "contract",
    "address",
    "event",
    "args",
)
PARTY_COLUMNS = ("chain_id", "party", "event_id", "block_number")
APPEND_EVENT_TABLES = ("repayment", "piece_payment", "distribution")
# Append-only rows a rollback cuts at the fork by their block number.
CUT_BY_BLOCK = (*APPEND_EVENT_TABLES, "ledger_event_party")


@dataclass
class MirrorState:
    """The `indexer_state` row."""

    chain_id: int
    genesis_hash: str
    registry_address: str
    token_address: str
    receivables_address: str
    start_block: int
    cursor_block: int
    cursor_hash: str | None
    final_block: int


@dataclass
class Batch:
    """Everything one transaction writes: events of blocks `from_block..to_block`."""

    from_block: int
    to_block: int
    to_hash: str
    events: list[DecodedEvent]
    headers: list[Header]
    prev_cursor: int
    journal_after: int | None
    final_block: int
    stats: dict[str, float] = field(default_factory=dict)


@dataclass
class Prepared:
    """A batch applied to derived state, ready to be written."""

    batch: Batch
    ledger: Ledger
    changed: dict[str, list[Row]]
    seq: int
    created: dict[str, list[Row]] = field(default_factory=dict)
    """The changed rows that did not exist before the batch (a plain COPY, no upsert)."""


class Store:
    """The mirror of one chain in one database."""

    def __init__(self, engine: Engine, chain_id: int, *, reorg_window: int) -> None:
        self.engine = engine
        self.chain_id = chain_id
        self.reorg_window = reorg_window
        self.postgres = engine.dialect.name == "postgresql"
        self.t: dict[str, Table] = dict(metadata.tables)
        self._overlay: dict[str, dict[Key, tuple[Row | None, int]]] = {t: {} for t in TABLE_KEYS}
        self._overlay_lock = threading.Lock()
        self._seq = 0
        self._selects: dict[str, Any] = {}
        self._event_seq: str | None = None
        self._formatters: dict[tuple[str, tuple[str, ...]], Callable[[Row], str]] = {}

    # -- state -----------------------------------------------------------------------------

    def load_state(self, conn: Connection | None = None) -> MirrorState | None:
        t = self.t["indexer_state"]
        stmt = select(t).where(t.c.chain_id == self.chain_id)
        if conn is None:
            with self.engine.connect() as c:
                row = c.execute(stmt).mappings().first()
        else:
            row = conn.execute(stmt).mappings().first()
        if row is None:
            return None
        return MirrorState(**{k: v for k, v in row.items() if k != "updated_at"})

    def create_state(self, state: MirrorState, first_header: Header | None) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(self.t["indexer_state"]),
                [{**state.__dict__, "updated_at": datetime.now(UTC)}],
            )
            if first_header is not None:
                self._upsert(conn, "ledger_block", [_block_row(first_header)], ("number",))

    def stored_blocks(self) -> list[tuple[int, str]]:
        """Kept block hashes, newest first."""
        t = self.t["ledger_block"]
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t.c.number, t.c.hash)
                .where(t.c.chain_id == self.chain_id)
                .order_by(t.c.number.desc())
            ).all()
        return [(int(n), str(h)) for n, h in rows]

    # -- batches ---------------------------------------------------------------------------

    def write_batch(self, batch: Batch) -> Ledger:
        """Apply and persist one batch in one transaction; returns the applied ledger."""
        prepared = self.prepare(batch)
        self.commit(prepared)
        return prepared.ledger

    def prepare(self, batch: Batch) -> Prepared:
        """Load the rows the batch touches and apply its events (no writes yet).

        Rows changed by batches prepared but not yet committed come from the overlay, so the
        next batch can be prepared while the previous one is being written.
        """
        wanted = handlers.needs(batch.events)
        with self._overlay_lock:
            rows: dict[str, dict[Key, Row | None]] = {}
            missing: dict[str, set[Key]] = {}
            for table, keys in wanted.items():
                layer = self._overlay[table]
                got = rows[table] = {}
                for key in keys:
                    if key in layer:
                        row = layer[key][0]
                        got[key] = None if row is None else dict(row)
                    else:
                        missing.setdefault(table, set()).add(key)
        if missing:
            with self.engine.connect() as conn:
                for table, found in self._load(conn, missing).items():
                    rows[table].update(found)
        absent = {t: {k for k, r in tab.items() if r is None} for t, tab in rows.items()}
        ledger = Ledger(rows, strict=True, journal_after=batch.journal_after)
        handlers.apply(ledger, batch.events)
        changed = {table: [dict(r) for r in ledger.changed_rows(table)] for table in TABLE_KEYS}
        created: dict[str, list[Row]] = {}
        for table, keycol in TABLE_KEYS.items():
            gone = absent.get(table)
            if keycol is not None and gone and changed[table]:
                created[table] = [r for r in changed[table] if r[keycol] in gone]
        self._seq += 1
        with self._overlay_lock:
            for table, keycol in TABLE_KEYS.items():
                layer = self._overlay[table]
                for row in changed[table]:
                    layer[LEDGER_KEY if keycol is None else row[keycol]] = (row, self._seq)
        return Prepared(batch, ledger, changed, self._seq, created)

    def commit(self, prepared: Prepared) -> None:
        """Write a prepared batch, its cursor included, in one transaction."""
        try:
            with self.engine.begin() as conn:
                self._write(conn, prepared)
        except BaseException:
            self.forget_overlay()
            raise
        with self._overlay_lock:
            for table, keycol in TABLE_KEYS.items():
                layer = self._overlay[table]
                for row in prepared.changed[table]:
                    key = LEDGER_KEY if keycol is None else row[keycol]
                    if layer.get(key, (None, -1))[1] == prepared.seq:
                        del layer[key]

    def forget_overlay(self) -> None:
        with self._overlay_lock:
            for layer in self._overlay.values():
                layer.clear()

    def _write(self, conn: Connection, prepared: Prepared) -> None:
        batch, ledger = prepared.batch, prepared.ledger
        if self.postgres:
            # Safe for exactly-once: a commit lost in a server crash takes its cursor with it.
            conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
        self._check_cursor(conn, batch.prev_cursor)
        self._insert_events(conn, batch.events)
        for table, keycol in TABLE_KEYS.items():
            rows = prepared.changed[table]
            new = prepared.created.get(table)
            if new and self.postgres:
                # Rows born in this batch need no conflict check (and no staging copy): a
                # backfill creates most rows and updates them in the same batch.
                self._bulk_insert(conn, table, new)
                known = {id(r) for r in new}
                rows = [r for r in rows if id(r) not in known]
            if rows:
                self._upsert(conn, table, rows, (keycol,) if keycol else ())
        for table in APPEND_EVENT_TABLES:
            self._bulk_insert(conn, table, ledger.appends[table])
        if ledger.holding_closes:
            self._close_holdings(conn, ledger.holding_closes)
        self._bulk_insert(conn, "holding", ledger.appends["holding"])
        if ledger.journal:
            dumps = json.dumps
            self._bulk_insert(
                conn,
                "indexer_undo",
                [
                    {
                        "block_number": block,
                        "table_name": table,
                        "key": _key_json(key),
                        "prior": None if prior is None else dumps(prior),
                    }
                    for block, table, key, prior in ledger.journal
                ],
            )
        headers = {h.number: h for h in batch.headers}
        if headers:
            self._upsert(
                conn, "ledger_block", [_block_row(h) for h in headers.values()], ("number",)
            )
        self._prune(conn, batch.to_block)
        self._move_cursor(conn, batch.prev_cursor, batch.to_block, batch.to_hash, batch.final_block)

    def _close_holdings(self, conn: Connection, closes: list[Row]) -> None:
        """End the open holding of each piece (opened by an earlier batch)."""
        if not self.postgres:
            h = self.t["holding"]
            conn.execute(
                update(h)
                .where(
                    h.c.chain_id == self.chain_id,
                    h.c.piece_id == _bind("piece_id"),
                    h.c.to_block.is_(None),
                )
                .values(to_block=_bind("to_block"), to_log_index=_bind("to_log_index")),
                [
                    {"b_piece_id": r["piece_id"], "b_to_block": r["to_block"],
                     "b_to_log_index": r["to_log_index"]}
                    for r in closes
                ],
            )  # fmt: skip
            return
        # One statement over arrays: an executemany of thousands of UPDATEs is a round trip
        # and a plan each. A piece appears once (a later close in the batch is in memory).
        first: dict[int, Row] = {}
        for r in closes:
            first.setdefault(r["piece_id"], r)
        conn.exec_driver_sql(
            "UPDATE holding h SET to_block = v.to_block, to_log_index = v.to_log_index "
            "FROM unnest(%s::bigint[], %s::bigint[], %s::int[]) AS v(piece_id, to_block, "
            "to_log_index) WHERE h.chain_id = %s AND h.piece_id = v.piece_id "
            "AND h.to_block IS NULL",
            (
                list(first),
                [r["to_block"] for r in first.values()],
                [r["to_log_index"] for r in first.values()],
                self.chain_id,
            ),
        )

    def _check_cursor(self, conn: Connection, expected: int) -> None:
        t = self.t["indexer_state"]
        stmt = select(t.c.cursor_block).where(t.c.chain_id == self.chain_id)
        if self.postgres:
            stmt = stmt.with_for_update()
        current = conn.execute(stmt).scalar_one_or_none()
        if current != expected:
            raise WriterLockError(
                f"chain {self.chain_id}: mirror cursor is at {current}, expected {expected}; "
                "another indexer is writing this mirror"
            )

    def _move_cursor(
        self, conn: Connection, prev: int, block: int, block_hash: str | None, final_block: int
    ) -> None:
        t = self.t["indexer_state"]
        result = conn.execute(
            update(t)
            .where(t.c.chain_id == self.chain_id, t.c.cursor_block == prev)
            .values(
                cursor_block=block,
                cursor_hash=block_hash,
                final_block=final_block,
                updated_at=datetime.now(UTC),
            )
        )
        if result.rowcount != 1:
            raise WriterLockError(f"chain {self.chain_id}: cursor moved under us (another writer?)")

    def _prune(self, conn: Connection, cursor: int) -> None:
        """Forget block hashes and undo images older than the reorg window."""
        horizon = cursor - self.reorg_window
        b, u = self.t["ledger_block"], self.t["indexer_undo"]
        conn.execute(delete(b).where(b.c.chain_id == self.chain_id, b.c.number < horizon))
        conn.execute(delete(u).where(u.c.chain_id == self.chain_id, u.c.block_number <= horizon))

    # -- rollback --------------------------------------------------------------------------

    def rollback_to(self, ancestor: int, ancestor_hash: str) -> int:
        """Undo everything above block `ancestor`; returns how many events were dropped."""
        self.forget_overlay()
        with self.engine.begin() as conn:
            state = self.load_state(conn)
            if state is None:
                raise IndexerError(f"chain {self.chain_id} has no mirror")
            self._check_cursor(conn, state.cursor_block)
            if ancestor < state.final_block:
                raise ReorgTooDeep(
                    f"chain {self.chain_id} forked below block {ancestor + 1}, but the mirror can "
                    f"only roll back to block {state.final_block} (reorg window "
                    f"{self.reorg_window}); rebuild the mirror from scratch"
                )
            u = self.t["indexer_undo"]
            restored: set[tuple[str, str]] = set()
            rows = conn.execute(
                select(u.c.table_name, u.c.key, u.c.prior)
                .where(u.c.chain_id == self.chain_id, u.c.block_number > ancestor)
                .order_by(u.c.block_number, u.c.id)
            ).all()
            for table, key_json, prior_json in rows:
                if (table, key_json) in restored:
                    continue  # the earliest image above the fork is the state at the fork
                restored.add((table, key_json))
                self._restore(conn, table, json.loads(key_json), prior_json)
            cid = self.chain_id
            conn.execute(delete(u).where(u.c.chain_id == cid, u.c.block_number > ancestor))
            ev = self.t["ledger_event"]
            dropped = conn.execute(
                delete(ev).where(ev.c.chain_id == cid, ev.c.block_number > ancestor)
            ).rowcount
            for name in CUT_BY_BLOCK:
                t = self.t[name]
                conn.execute(delete(t).where(t.c.chain_id == cid, t.c.block_number > ancestor))
            h = self.t["holding"]
            conn.execute(delete(h).where(h.c.chain_id == cid, h.c.from_block > ancestor))
            conn.execute(
                update(h)
                .where(h.c.chain_id == cid, h.c.to_block > ancestor)
                .values(to_block=None, to_log_index=None)
            )
            b = self.t["ledger_block"]
            conn.execute(delete(b).where(b.c.chain_id == cid, b.c.number > ancestor))
            self._move_cursor(conn, state.cursor_block, ancestor, ancestor_hash, state.final_block)
        log.warning(
            "rolled back",
            extra={
                "chain_id": cid,
                "from_block": state.cursor_block,
                "to_block": ancestor,
                "events_dropped": dropped,
                "rows_restored": len(restored),
            },
        )
        return int(dropped)

    def _restore(self, conn: Connection, table: str, key: Key, prior_json: str | None) -> None:
        t = self.t[table]
        keycol = TABLE_KEYS[table]
        where = [t.c.chain_id == self.chain_id]
        if keycol is not None:
            where.append(t.c[keycol] == key)
        if prior_json is None:
            conn.execute(delete(t).where(*where))
        else:
            self._upsert(conn, table, [json.loads(prior_json)], (keycol,) if keycol else ())

    # -- reads and writes ------------------------------------------------------------------

    def _load(
        self, conn: Connection, wanted: dict[str, set[Key]]
    ) -> dict[str, dict[Key, Row | None]]:
        out: dict[str, dict[Key, Row | None]] = {}
        for table, keys in wanted.items():
            if not keys:
                continue
            t = self.t[table]
            keycol = TABLE_KEYS[table]
            found: dict[Key, Row | None] = dict.fromkeys(keys)
            if keycol is None:
                row = (
                    conn.execute(select(t).where(t.c.chain_id == self.chain_id)).mappings().first()
                )
                if row is not None:
                    found[LEDGER_KEY] = _strip(row)
            elif self.postgres:
                # One `= ANY(array)` parameter: an IN list of thousands of placeholders costs
                # more to render and parse than to run.
                result = conn.execute(
                    self._select_any(table, keycol), {"cid": self.chain_id, "keys": list(keys)}
                )
                names = list(result.keys())
                at = names.index(keycol)
                for values in result:
                    found[values[at]] = dict(zip(names, values, strict=True))
            else:
                ordered = sorted(keys, key=str)
                for i in range(0, len(ordered), _IN_CHUNK):
                    chunk = ordered[i : i + _IN_CHUNK]
                    mapped = conn.execute(
                        select(t).where(t.c.chain_id == self.chain_id, t.c[keycol].in_(chunk))
                    ).mappings()
                    for mapping in mapped:
                        found[mapping[keycol]] = _strip(mapping)
            out[table] = found
        return out

    def _select_any(self, table: str, keycol: str) -> Any:
        """`SELECT .. WHERE key = ANY(:keys)`, built once per table (compiled-statement cache)."""
        stmt = self._selects.get(table)
        if stmt is None:
            t = self.t[table]
            column = t.c[keycol]
            stmt = select(*[c for c in t.columns if c.name != "chain_id"]).where(
                t.c.chain_id == bindparam("cid"),
                column == any_(bindparam("keys", type_=ARRAY(column.type))),
            )
            self._selects[table] = stmt
        return stmt

    def _insert_events(self, conn: Connection, events: Sequence[DecodedEvent]) -> None:
        """The raw events and their party rows (which need the events' ids)."""
        if not events:
            return
        cid = self.chain_id
        if self.postgres:
            # Ids drawn from the column's own sequence up front, in chain order: the party rows
            # can then be written with the events, without reading anything back.
            if self._event_seq is None:
                self._event_seq = conn.exec_driver_sql(
                    "SELECT pg_get_serial_sequence('ledger_event', 'id')"
                ).scalar_one()
            ids: list[int] = conn.exec_driver_sql(
                "SELECT array(SELECT nextval(%s::regclass) AS id "
                "FROM generate_series(1, %s) ORDER BY id)",
                (self._event_seq, len(events)),
            ).scalar_one()
            lines = (
                f"{i}\t{cid}\t{e.block_number}\t{e.block_hash}\t{e.tx_hash}\t{e.tx_index}\t"
                f"{e.log_index}\t{e.contract}\t{e.address}\t{e.event}\t"
                f"{_copy_field(e.args_json or args_json(e.args))}"
                for i, e in zip(ids, events, strict=True)
            )
            self._copy_lines(conn, "ledger_event", ("id", *EVENT_COLUMNS), lines)
            # Decoded addresses are 0x and hex digits: nothing to escape.
            parties = (
                f"{cid}\t{p}\t{i}\t{e.block_number}"
                for i, e in zip(ids, events, strict=True)
                for p in e.parties
            )
            self._copy_lines(conn, "ledger_event_party", PARTY_COLUMNS, parties)
            return
        t = self.t["ledger_event"]
        conn.execute(
            insert(t),
            [
                {"chain_id": cid, "block_number": e.block_number, "block_hash": e.block_hash,
                 "tx_hash": e.tx_hash, "tx_index": e.tx_index, "log_index": e.log_index,
                 "contract": e.contract, "address": e.address, "event": e.event,
                 "args": json_args(e.args)}
                for e in events
            ],
        )  # fmt: skip
        if not any(e.parties for e in events):
            return
        stored = conn.execute(
            select(t.c.block_number, t.c.log_index, t.c.id).where(
                t.c.chain_id == cid,
                t.c.block_number >= events[0].block_number,
                t.c.block_number <= events[-1].block_number,
            )
        )
        ids_at = {(b, li): i for b, li, i in stored}
        conn.execute(
            insert(self.t["ledger_event_party"]),
            [
                {"chain_id": cid, "party": p, "block_number": e.block_number,
                 "event_id": ids_at[(e.block_number, e.log_index)]}
                for e in events
                for p in e.parties
            ],
        )  # fmt: skip

    def _bulk_insert(self, conn: Connection, table: str, rows: list[Row]) -> None:
        if not rows:
            return
        cid = self.chain_id
        if self.postgres:
            names = tuple(rows[0])
            self._copy_rows(conn, table, table, names, rows)
            return
        conn.execute(insert(self.t[table]), [{"chain_id": cid, **r} for r in rows])

    def _upsert_by_copy(
        self, conn: Connection, table: str, rows: list[Row], pk: Sequence[str]
    ) -> None:
        """PostgreSQL: COPY into a session-local staging table, then one INSERT .. ON CONFLICT."""
        staging = f"staging_{table}"
        conn.exec_driver_sql(
            f"CREATE TEMP TABLE IF NOT EXISTS {staging} (LIKE {table}) ON COMMIT DELETE ROWS"
        )
        names = tuple(rows[0])
        self._copy_rows(conn, staging, table, names, rows)
        conn.exec_driver_sql(_upsert_sql(table, staging, ("chain_id", *names), pk))

    def _copy_rows(
        self, conn: Connection, into: str, table: str, names: tuple[str, ...], rows: list[Row]
    ) -> None:
        """COPY in text format, formatted here: a third of the cost of `write_row` per row."""
        key = (table, names)
        fmt = self._formatters.get(key)
        if fmt is None:
            fmt = self._formatters[key] = _row_formatter(self.t[table], names, self.chain_id)
        self._copy_lines(conn, into, ("chain_id", *names), map(fmt, rows))

    def _copy_lines(
        self, conn: Connection, table: str, columns: Sequence[str], lines: Iterable[str]
    ) -> None:
        raw: Any = conn.connection.driver_connection
        sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        with raw.cursor() as cur, cur.copy(sql) as copy:
            buf: list[str] = []
            size = 0
            for line in lines:
                buf.append(line)
                size += len(line)
                if size > 1 << 20:
                    copy.write("\n".join(buf) + "\n")
                    buf, size = [], 0
            if buf:
                copy.write("\n".join(buf) + "\n")

    def _upsert(self, conn: Connection, table: str, rows: list[Row], keys: tuple[str, ...]) -> None:
        t = self.t[table]
        pk = ("chain_id", *keys)
        if self.postgres and len(rows) >= _COPY_UPSERT_MIN:
            self._upsert_by_copy(conn, table, rows, pk)
            return
        ins = pg_insert(t) if self.postgres else sqlite_insert(t)
        stmt = ins.on_conflict_do_update(
            index_elements=list(pk),
            set_={c.name: ins.excluded[c.name] for c in t.columns if c.name not in pk},
        )
        cid = self.chain_id
        conn.execute(stmt, [{"chain_id": cid, **r} for r in rows])


def _upsert_sql(table: str, staging: str, columns: Sequence[str], pk: Sequence[str]) -> str:
    cols = ", ".join(columns)
    sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in pk)
    return (
        f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {staging} "
        f"ON CONFLICT ({', '.join(pk)}) DO UPDATE SET {sets}"
    )


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _row_formatter(table: Table, names: tuple[str, ...], cid: int) -> Callable[[Row], str]:
    """A function from a row dict to its COPY line, generated for the table's columns (one
    f-string, no per-value type dispatch); rows it cannot vouch for go through `_copy_line`."""
    fields, loads, nulls = [str(cid)], [], []
    for i, name in enumerate(names):
        loads.append(f"    v{i} = r[{name!r}]\n")
        nulls.append(f"(v{i} is None)")
        if isinstance(table.c[name].type, Boolean):
            fields.append(f"{{N if v{i} is None else 't' if v{i} else 'f'}}")
        else:
            fields.append(f"{{N if v{i} is None else v{i}}}")
    # Each null brings one backslash; any other backslash, a newline or an extra tab is in a
    # value (or a value is not what the column holds): the careful path escapes it.
    src = (
        "def fmt(r):\n"
        + "".join(loads)
        + '    line = f"' + "\\t".join(fields) + '"\n'
        + "    if (line.count(BACKSLASH) != " + " + ".join(nulls)
        + " or NL in line or CR in line or line.count(TAB) != " + str(len(names)) + "):\n"
        + "        return _copy_line((" + str(cid) + ", *[r[c] for c in " + repr(names) + "]))\n"
        + "    return line\n"
    )  # fmt: skip
    env: dict[str, Any] = {
        "N": "\\N", "BACKSLASH": "\\", "NL": "\n", "CR": "\r", "TAB": "\t",
        "_copy_line": _copy_line,
    }  # fmt: skip
    exec(src, env)
    fmt: Callable[[Row], str] = env["fmt"]
    return fmt


def _copy_line(row: tuple[Any, ...]) -> str:
    """A row in COPY text format; derived rows hold only numbers, hex text, flags and nulls, so
    the per-field escaping is needed only when a backslash shows up."""
    line = "\t".join(
        ["\\N" if v is None else "t" if v is True else "f" if v is False else str(v) for v in row]
    )
    # Each null adds one backslash of its own; any other is in a value and must be escaped.
    if (
        line.count("\\") != row.count(None)
        or "\n" in line
        or "\r" in line
        or line.count("\t") != len(row) - 1
    ):
        return "\t".join([_copy_field(v) for v in row])
    return line


def _copy_field(v: Any) -> str:
    """One value in PostgreSQL's COPY text format."""
    t = type(v)
    if t is int:
        return str(v)
    if t is str:
        if "\\" in v or "\t" in v or "\n" in v or "\r" in v:
            return str(v).translate(_COPY_ESCAPES)
        return str(v)
    if v is None:
        return "\\N"
    if t is bool:
        return "t" if v else "f"
    return _copy_field(str(v))


def _key_json(key: Key) -> str:
    """A derived row's key as JSON: an int, or hex text (needs no escaping)."""
    if isinstance(key, int):
        return str(key)
    if key.startswith("0x") and key.isalnum():
        return f'"{key}"'
    return json.dumps(key)


def _bind(name: str) -> Any:
    return bindparam(f"b_{name}")


def _strip(row: Any) -> Row:
    return {k: v for k, v in row.items() if k != "chain_id"}


def _block_row(h: Header) -> Row:
    return {"number": h.number, "hash": h.hash, "parent_hash": h.parent_hash}
