"""/v1/ops: what the demo, the CLI and an operator on call need besides the member API — the
chain's clock, cash balances from the mirror, a keeper round on demand, and (development chains
only) moving time forward."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AfterValidator, BaseModel, Field
from sqlmodel import col, select

from backend.api.deps import Auditor, CurrentMember, MirrorDep, Operator, RuntimeDep
from backend.api.errors import ERROR_RESPONSES
from backend.errors import Conflict
from backend.keeper import run_once
from backend.schemas import AddressOut
from backend.services.tx import wait_mirror
from chain.addresses import parse_address
from indexer.models import CashBalance

router = APIRouter(prefix="/v1/ops", tags=["ops"], responses=ERROR_RESPONSES)
DEV_PROFILES = ("tester", "anvil")


class ChainOut(BaseModel):
    chain_id: int
    profile: str
    block: int
    timestamp: int = Field(description="The latest block's timestamp (the ledger's clock).")
    mirror_block: int
    dev_chain: bool = Field(description="Time can be moved (POST /v1/ops/time/advance).")
    receivables: str = Field(description="Address of the Receivables contract (the escrow).")


class BalanceOut(BaseModel):
    address: AddressOut
    balance: int
    updated_block: int | None


class AdvanceIn(BaseModel):
    seconds: int = Field(gt=0, le=20 * 365 * 86_400)


@router.get("/chain", response_model=ChainOut)
def chain(me: CurrentMember, rt: RuntimeDep) -> ChainOut:
    """The chain the API is attached to, its head and clock, and how far the mirror is."""
    block = rt.conn.w3.eth.get_block("latest")
    return ChainOut(
        chain_id=rt.chain_id,
        profile=rt.conn.profile,
        block=int(block["number"]),
        timestamp=int(block["timestamp"]),
        mirror_block=rt.mirror_cursor(),
        dev_chain=rt.conn.profile in DEV_PROFILES,
        receivables=rt.deployment.receivables.address,
    )


@router.get("/balances", response_model=list[BalanceOut])
def balances(
    me: Auditor,
    rt: RuntimeDep,
    mirror: MirrorDep,
    address: list[Annotated[str, AfterValidator(parse_address)]] = Query(  # noqa: B008
        default_factory=list, description="repeat; empty: all (any case; answers are EIP-55)"
    ),
) -> list[BalanceOut]:
    """Settlement cash per address as mirrored (0 for an address never credited)."""
    wanted = [a.lower() for a in address]
    query = select(CashBalance).where(CashBalance.chain_id == rt.chain_id)
    if wanted:
        query = query.where(col(CashBalance.address).in_(wanted))
    rows = {r.address.lower(): r for r in mirror.exec(query).all()}
    keys = wanted or sorted(rows)
    return [
        BalanceOut(
            address=a,
            balance=int(rows[a].balance) if a in rows else 0,
            updated_block=int(rows[a].updated_block) if a in rows else None,
        )
        for a in keys
    ]


@router.post("/keeper/run")
def keeper_run(
    me: Operator,
    rt: RuntimeDep,
    wait: bool = Query(
        default=False, description="Answer once the mirror shows the round's payouts."
    ),
) -> dict[str, Any]:
    """One keeper round now (mark overdue, distribute due repayments), as beat would run it;
    its transactions are mined when it answers, and with `wait` also in the mirror."""
    done = run_once(rt)
    head = int(rt.conn.w3.eth.block_number)
    if wait:
        wait_mirror(rt, head, time.monotonic() + rt.settings.wait_timeout_seconds)
    return {**done, "block": head, "visible_in_mirror": rt.mirror_cursor() >= head}


@router.post("/time/advance", response_model=ChainOut)
def advance_time(body: AdvanceIn, me: Operator, rt: RuntimeDep) -> ChainOut:
    """Move the ledger's clock forward and mine a block: development chains only."""
    if rt.conn.profile not in DEV_PROFILES:
        raise Conflict(
            f"time cannot be moved on the {rt.conn.profile} profile", code="NotADevelopmentChain"
        )
    rt.conn.advance_time(body.seconds)
    if rt.indexer is not None:
        rt.indexer.wait_for_block(rt.conn.w3.eth.block_number, timeout=30)
    return chain(me, rt)
