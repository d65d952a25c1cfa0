"""The ledger's settings as its contracts hold them (through the mirror), and its clock."""

from __future__ import annotations

from sqlmodel import Session

from backend.errors import Unavailable
from backend.runtime import Runtime
from backend.schemas import MAX_TENOR_DAYS, LedgerOut
from backend.services.common import chain_now, ledger_status
from backend.services.documents import ledger_date
from chain.pricing import SECONDS_PER_DAY


def settings(mirror: Session, rt: Runtime) -> LedgerOut:
    status = ledger_status(mirror, rt)
    if status is None:
        raise Unavailable(
            "the mirror has not read the ledger's settings yet; try again in a moment",
            code="MirrorBehind",
        )
    now = chain_now(rt)
    return LedgerOut(
        chain_id=rt.chain_id,
        paused=status.paused,
        settlement_currency=rt.settings.settlement_currency,
        ledger_time=now,
        ledger_date=ledger_date(now).isoformat(),
        grace_period_seconds=int(status.grace_period),
        grace_period_days=int(status.grace_period) / SECONDS_PER_DAY,
        max_depth=int(status.max_depth),
        min_piece_amount=int(status.min_piece_amount),
        max_live_pieces=int(status.max_live_pieces),
        max_tenor_days=MAX_TENOR_DAYS,
        cash_in_circulation=int(status.total_supply),
        registry=rt.deployment.registry.address,
        token=rt.deployment.token.address,
        receivables=rt.deployment.receivables.address,
        changed_at_block=int(status.updated_block),
    )
