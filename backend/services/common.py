"""Helpers shared by the party services: chain time, ledger status, entity ids."""

from __future__ import annotations

from sqlalchemy import bindparam
from sqlmodel import Session, select

from backend.runtime import Runtime
from indexer.models import LedgerStatus


def chain_now(rt: Runtime) -> int:
    """The latest block's timestamp: the clock the contracts judge by."""
    return rt.conn.latest_timestamp()


_LEDGER_STATUS = select(LedgerStatus).where(LedgerStatus.chain_id == bindparam("chain_id"))


def ledger_status(mirror: Session, rt: Runtime) -> LedgerStatus | None:
    return mirror.exec(_LEDGER_STATUS, params={"chain_id": rt.chain_id}).first()
