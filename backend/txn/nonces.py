"""Nonces across processes: one per-signer lock, and one floor rule.

The nonce manager's cache is per process; with several worker processes (or machines) it would
hand the same nonce out twice. Every path that signs (the dispatcher, the single-request
executor, a client-signed submission) therefore takes the signer's lock (the manager's lock in
this process, a PostgreSQL advisory lock across processes) and signs no lower than the floor:
one past the highest nonce any request has stored signed, sent or mined.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from eth_utils.address import to_checksum_address
from sqlalchemy import Connection, func, select, text
from sqlmodel import col

from backend.models import TxRequest, TxStatus, utcnow
from backend.runtime import Runtime


def _lock_key(signer: str) -> str:
    return f"scf-signer:{signer.lower()}"


@contextmanager
def signer_lock(rt: Runtime, signer: str) -> Iterator[Connection]:
    """A database transaction during which no other submission for `signer` runs."""
    with rt.conn.nonces.lock_for(to_checksum_address(signer)), rt.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(
                text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
                {"k": _lock_key(signer)},
            )
        yield conn


@contextmanager
def custodial_signer_lock(rt: Runtime, signer: str) -> Iterator[Connection]:
    """Hold `signer`'s sequence while a worker allocates, signs, records and broadcasts; the
    connection it yields holds the lock (a session lock: the record step commits through it
    before the broadcast)."""
    with (
        rt.conn.nonces.lock_for(to_checksum_address(signer)),
        rt.engine.connect() as conn,
        signer_locks(conn, [signer.lower()]),
    ):
        yield conn


@contextmanager
def signer_locks(conn: Connection, signers: list[str]) -> Iterator[None]:
    """The per-signer advisory locks, taken in sorted order (no deadlock with another holder
    of several) on `conn`'s session; nothing to take outside PostgreSQL."""
    if conn.dialect.name != "postgresql" or not signers:
        yield
        return
    sql = "SELECT {}(hashtextextended('scf-signer:' || s, 0)) FROM unnest(CAST(:s AS text[])) s"
    conn.execute(text(sql.format("pg_advisory_lock") + " ORDER BY s"), {"s": signers})
    conn.commit()
    try:
        yield
    finally:
        conn.rollback()
        conn.execute(text(sql.format("pg_advisory_unlock")), {"s": signers})
        conn.commit()


def stored_floors(conn: Connection, signers: list[str]) -> dict[str, int]:
    """Per signer (lower-case), one past the highest nonce stored signed, sent or mined by any
    process; a signer with none stored is absent. Mined counts too: a node that lags behind the
    one that mined it would otherwise hand that nonce out again."""
    rows = conn.execute(
        select(TxRequest.signer, func.max(TxRequest.nonce))  # type: ignore[call-overload]
        .where(
            col(TxRequest.signer).in_(signers),
            col(TxRequest.status).in_(TxStatus.NONCE_TAKEN),
        )
        .group_by(TxRequest.signer)
    ).all()
    return {s: int(n) + 1 for s, n in rows if n is not None}


def next_nonce(rt: Runtime, conn: Connection, signer: str) -> int:
    """The signer's next free nonce: past what the node knows and what is stored."""
    floor = stored_floors(conn, [signer.lower()]).get(signer.lower(), 0)
    return max(rt.sender.next_nonce(signer), floor)


def provisional_nonce(rt: Runtime, req: TxRequest) -> int:
    """The nonce to sign a client-signed `req` with: the signer's next free one, after its
    earlier requests still awaiting a signature (signed in the order they were made, none
    collides)."""
    with rt.engine.connect() as conn:
        base = next_nonce(rt, conn, req.signer)
        ahead = conn.execute(
            select(func.count()).where(
                TxRequest.signer == req.signer,  # type: ignore[arg-type]
                TxRequest.status == TxStatus.AWAITING_SIGNATURE,  # type: ignore[arg-type]
                col(TxRequest.created_at) < req.created_at,
                col(TxRequest.expires_at) > utcnow(),
            )
        ).scalar()
    return base + int(ahead or 0)
