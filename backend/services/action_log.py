"""The off-chain action log: an append-only hash chain of every off-chain action (logins, API
keys, onboarding, directory writes, freezes, financing requests, and the staff users' own
actions), whose head the keeper anchors on the ledger (`MemberRegistry.anchorLog`).

Each entry's `hash` is sha256 of the canonical JSON of its fields followed by `prev_hash`, the
hash of the entry before it (`GENESIS` for the first). Appends take the one head row's lock
(`UPDATE action_log_head ... RETURNING`: a row lock on PostgreSQL, the database's write lock
on SQLite) and hold it until the caller commits, so two writers never fork the chain."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from eth_utils.address import is_hex_address, to_checksum_address
from sqlalchemy import insert, update
from sqlmodel import Session, col, select
from web3.exceptions import Web3RPCError

from backend.db import insert_new
from backend.errors import Forbidden, InvalidInput
from backend.models import ActionLogEntry, ActionLogHead, as_utc, utcnow
from backend.permissions import Permission
from backend.runtime import Runtime
from backend.services.context import Principal

GENESIS = "0" * 64

# results an entry may carry
OK = "ok"  # done off-chain
SUBMITTED = "submitted"  # its transaction request is stored (the chain decides the rest)
FAILED = "failed"  # refused (e.g. a failed login): `details.code` says why

_HEAD = ActionLogHead.__table__  # type: ignore[attr-defined]


def record(
    session: Session,
    *,
    member: str | None,
    action: str,
    result: str,
    user: str | None = None,
    source_ip: str | None = None,
    target: str | None = None,
    details: dict[str, Any] | None = None,
) -> ActionLogEntry:
    """Append one entry to the log in the session's transaction; the caller commits, so the
    entry commits (or rolls back) with the action it records, and the head stays locked until
    then.

    `member`: the acting member's address (None for an unknown one, e.g. a failed login on an
    unknown challenge); `user`: the staff user's login name, if a person acted; `action`: a
    dotted name (`auth.login`, `api_key.create`, `member.onboard`, `user.create`,
    `policy.set`, `approval.approve`...); `result`: `OK`, `SUBMITTED` or `FAILED`; `target`:
    what was acted on (an address, a key id, `piece 7`); `details`: JSON of strings, integers,
    booleans and None (no floats: the hash covers their text)."""
    head = _lock_head(session)
    entry = ActionLogEntry(
        seq=head[0] + 1,
        at=utcnow(),
        member=member.lower() if member else None,
        user=user,
        action=action,
        source=source_ip,
        target=target,
        details=details or {},
        result=result,
        prev_hash=head[1],
        hash="",
    )
    entry.hash = entry_hash(entry)
    insert_new(session, entry)
    session.execute(update(_HEAD).where(_HEAD.c.id == 1).values(seq=entry.seq, hash=entry.hash))
    return entry


@dataclass(frozen=True)
class Logged:
    """The entry a write through the pipeline leaves (`tx.submit(log=...)`): it is recorded
    as `SUBMITTED` with its transaction request's id, in the request's transaction."""

    action: str
    target: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


#: The operator's and regulator's writes: each one submitted leaves an entry by itself (the
#: parties' own business writes are in the ledger's events and in `tx_request`).
LOGGED_ACTIONS = frozenset(
    {
        "member.add",
        "member.roles",
        "member.suspend",
        "member.reactivate",
        "member.credit_limit",
        "ledger.pause",
        "ledger.unpause",
        "cash.mint",
        "cash.burn",
        "root.close",
        "root.freeze",
        "root.unfreeze",
        "piece.freeze",
        "piece.unfreeze",
    }
)


def _lock_head(session: Session) -> tuple[int, str]:
    """The head (seq, hash), locked for this transaction."""
    # a no-op write: it takes the row lock (PostgreSQL) or the write lock (SQLite) before reading
    stmt = (
        update(_HEAD)
        .where(_HEAD.c.id == 1)
        .values(seq=_HEAD.c.seq)
        .returning(_HEAD.c.seq, _HEAD.c.hash)
    )
    row = session.execute(stmt).first()
    if row is None:  # a database made without the migration (which inserts the head)
        session.execute(insert(_HEAD).values(id=1, seq=0, hash=GENESIS))
        row = session.execute(stmt).first()
        assert row is not None
    return int(row[0]), str(row[1])


def canonical(entry: ActionLogEntry) -> str:
    """The JSON the hash covers: every field but the hashes, keys sorted, no spaces."""
    return json.dumps(
        {
            "seq": entry.seq,
            "at": as_utc(entry.at).isoformat(timespec="microseconds"),
            "member": entry.member,
            "user": entry.user,
            "action": entry.action,
            "source": entry.source,
            "target": entry.target,
            "details": entry.details,
            "result": entry.result,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )


def entry_hash(entry: ActionLogEntry) -> str:
    return hashlib.sha256((canonical(entry) + entry.prev_hash).encode()).hexdigest()


def head(session: Session) -> tuple[int, str]:
    """The last entry's (seq, hash), without locking; (0, GENESIS) for an empty log."""
    row = session.get(ActionLogHead, 1)
    return (row.seq, row.hash) if row is not None else (0, GENESIS)


def entry_at(session: Session, seq: int) -> ActionLogEntry | None:
    return session.get(ActionLogEntry, seq)


# -- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogFilter:
    """What an auditor asks of the log; `member` is forced to the reader's own for a member."""

    member: str | None = None
    user: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        for moment in (self.since, self.until):
            if moment is not None and moment.tzinfo is None:
                raise InvalidInput(
                    "since and until need a time zone (e.g. 2026-12-01T00:00:00Z)",
                    code="NaiveDateTime",
                )


def own_filter(
    me: Principal,
    *,
    user: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> LogFilter:
    """What a member reads of the log: its own entries. Its administrators (and the member
    itself) read all of them; a staff user without `users.admin` only the ones it made: its
    colleagues' logins and actions are the administrators' to review."""
    staff = me.user
    if staff is not None and not me.may(Permission.ADMINISTER):
        if user is not None and user != staff.login:
            raise Forbidden(
                f"{staff.display_name} ({staff.login}) reads only its own entries of the log: "
                f"{user}'s need the permission {Permission.ADMINISTER}",
                code="MissingPermission",
                details={"permission": str(Permission.ADMINISTER), "user": staff.login},
            )
        user = staff.login
    return LogFilter(member=me.address, user=user, action=action, since=since, until=until)


def entries(
    session: Session, filt: LogFilter, *, after: int = 0, limit: int | None = None
) -> list[ActionLogEntry]:
    """Entries matching `filt` with seq above `after`, oldest first."""
    stmt = select(ActionLogEntry).where(col(ActionLogEntry.seq) > after)
    if filt.member is not None:
        stmt = stmt.where(col(ActionLogEntry.member) == filt.member.lower())
    if filt.user is not None:
        stmt = stmt.where(col(ActionLogEntry.user) == filt.user)
    if filt.action is not None:
        stmt = stmt.where(col(ActionLogEntry.action) == filt.action)
    if filt.since is not None:
        stmt = stmt.where(col(ActionLogEntry.at) >= filt.since)
    if filt.until is not None:
        stmt = stmt.where(col(ActionLogEntry.at) < filt.until)
    stmt = stmt.order_by(col(ActionLogEntry.seq))
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.exec(stmt).all())


def page(
    session: Session, filt: LogFilter, *, after: int, limit: int
) -> tuple[list[dict[str, Any]], int | None]:
    """One page of entries as answers show them, and the cursor of the next (None: the last)."""
    rows = [entry_row(e) for e in entries(session, filt, after=after, limit=limit)]
    return rows, rows[-1]["seq"] if len(rows) == limit else None


#: The columns of an entry as the API and its CSV show it.
COLUMNS = (
    "seq",
    "at",
    "member",
    "user",
    "action",
    "source",
    "target",
    "result",
    "details",
    "prev_hash",
    "hash",
)


def entry_row(entry: ActionLogEntry) -> dict[str, Any]:
    """An entry for an answer: its fields, the time in ISO 8601, the member in EIP-55."""
    return {
        "seq": entry.seq,
        "at": as_utc(entry.at).isoformat(),
        "member": to_checksum_address(entry.member)
        if entry.member and is_hex_address(entry.member)
        else entry.member,
        "user": entry.user,
        "action": entry.action,
        "source": entry.source,
        "target": entry.target,
        "result": entry.result,
        "details": entry.details,
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
    }


def all_entries(session: Session, *, page: int = 1000) -> Iterator[ActionLogEntry]:
    """The whole log in seq order, a page at a time."""
    after = 0
    while True:
        rows = entries(session, LogFilter(), after=after, limit=page)
        yield from rows
        if len(rows) < page:
            return
        after = rows[-1].seq


# -- verifying ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Anchor:
    """One `LogAnchored` event read from the chain."""

    seq: int
    head: str  # hex, no 0x
    block_number: int
    tx_hash: str


@dataclass
class Verification:
    """What `verify` checked and the first break it found (None: the log is intact)."""

    entries: int = 0
    last_seq: int = 0
    anchors_checked: int = 0
    first_break: str | None = None
    broken_seq: int | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.first_break is None

    def as_dict(self) -> dict[str, Any]:
        """The report as `scf audit verify-log --json` prints it and the API answers it."""
        return {"ok": self.ok, **asdict(self)}

    def _break(self, seq: int | None, problem: str) -> None:
        if self.first_break is None:
            self.first_break, self.broken_seq = problem, seq
        self.problems.append(problem)


def verify(
    log: Iterable[ActionLogEntry], anchors: Iterable[Anchor], head: tuple[int, str] | None = None
) -> Verification:
    """Check every hash, every prev link and that seq runs 1, 2, 3... without a gap; then that
    each anchor's head is the hash of the entry at its seq, and the head row the last entry."""
    report = Verification()
    hashes: dict[int, str] = {}
    prev_seq, prev_hash = 0, GENESIS
    for entry in log:
        report.entries += 1
        if entry.seq != prev_seq + 1:
            missing = f"{prev_seq + 1}" + (
                f" to {entry.seq - 1}" if entry.seq - 1 > prev_seq + 1 else ""
            )
            report._break(entry.seq, f"entry {missing} is missing (seq jumps to {entry.seq})")
        if entry.prev_hash != prev_hash:
            report._break(
                entry.seq,
                f"entry {entry.seq} does not follow entry {prev_seq}: its prev_hash "
                f"{entry.prev_hash[:16]}… is not that entry's hash {prev_hash[:16]}…",
            )
        if entry_hash(entry) != entry.hash:
            report._break(
                entry.seq,
                f"entry {entry.seq} ({entry.action}) was changed: its fields no longer hash "
                f"to its stored hash {entry.hash[:16]}…",
            )
        hashes[entry.seq] = entry.hash
        prev_seq, prev_hash = entry.seq, entry.hash
    report.last_seq = prev_seq
    for anchor in anchors:
        report.anchors_checked += 1
        logged = hashes.get(anchor.seq)
        if logged is None:
            report._break(
                anchor.seq,
                f"the anchor of block {anchor.block_number} names entry {anchor.seq}, "
                f"which the log does not hold (it ends at {prev_seq})",
            )
        elif logged != anchor.head:
            report._break(
                anchor.seq,
                f"entry {anchor.seq} does not match the anchor of block {anchor.block_number}: "
                f"the ledger holds {anchor.head[:16]}…, the log {logged[:16]}…",
            )
    if head is not None and head[0] > 0 and head != (prev_seq, prev_hash):
        report._break(
            head[0],
            f"the log's head says entry {head[0]} ({head[1][:16]}…), its last entry is "
            f"{prev_seq} ({prev_hash[:16]}…)",
        )
    return report


# -- the ledger's anchors ------------------------------------------------------------------------


def ledger_anchors(rt: Runtime) -> list[Anchor]:
    """Every `LogAnchored` event of the deployment's registry, read from the chain itself."""
    registry = rt.contracts.registry
    event = registry.events.LogAnchored()
    logs = []
    start, head = rt.deployment.registry.block_number, int(rt.conn.w3.eth.block_number)
    span = rt.indexer_settings.max_block_range
    while start <= head:
        end = min(start + span - 1, head)
        try:
            logs += rt.conn.w3.eth.get_logs(
                {
                    "address": registry.address,
                    "topics": [event.topic],
                    "fromBlock": start,
                    "toBlock": end,
                }
            )
        except Web3RPCError:
            if span == 1:
                raise
            span = max(span // 2, 1)  # a node that caps the range (Besu): ask for less
            continue
        start = end + 1
    anchors = []
    for log in logs:
        ev = event.process_log(log)
        anchors.append(
            Anchor(
                seq=int(ev["args"]["seq"]),
                head=bytes(ev["args"]["head"]).hex(),
                block_number=int(ev["blockNumber"]),
                tx_hash=ev["transactionHash"].to_0x_hex(),
            )
        )
    return anchors


def last_anchor(rt: Runtime) -> tuple[int, str]:
    """The registry's last anchored (seq, head hex)."""
    seq, head_bytes = rt.contracts.registry.functions.lastLogAnchor().call()
    return int(seq), bytes(head_bytes).hex()


def verify_with_ledger(rt: Runtime, session: Session) -> Verification:
    """The whole log (up to the head as read first, so that concurrent appends are not
    breaks) and every anchor the chain holds."""
    current = head(session)
    log = (e for e in all_entries(session) if e.seq <= current[0])
    return verify(log, ledger_anchors(rt), current)
