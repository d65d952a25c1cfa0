"""/v1/me: the logged-in member's own cash, account statement, remittance advice, holdings and
action log.

A report's form is `?format=json|csv|pdf`, or else the Accept header (text/csv,
application/pdf; anything else is JSON)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlmodel import Session

from backend.api.deps import CurrentMember, MirrorDep, RuntimeDep, SessionDep
from backend.api.errors import ERROR_RESPONSES
from backend.api.names import addresses, with_names
from backend.api.params import (
    DB_INT,
    After,
    BlockQuery,
    Limit,
    LogAction,
    LogUser,
    Since,
    Until,
)
from backend.runtime import Runtime
from backend.schemas import CashOut, HoldingOut, RemittanceOut, StatementOut
from backend.services import action_log, cash, financier
from backend.services import statements as svc
from backend.services.audit import holdings_block, to_csv
from backend.services.directory import names_for
from backend.services.statement_pdf import statement_pdf

router = APIRouter(prefix="/v1/me", tags=["statements"], responses=ERROR_RESPONSES)

FromDate = Annotated[
    date | None, Query(alias="from", description="First day of the period (UTC), included.")
]
ToDate = Annotated[
    date | None, Query(alias="to", description="Last day of the period (UTC), included.")
]
ToBlock = Annotated[
    int | None,
    Query(ge=0, lt=DB_INT, description="Last block; default the mirror's; at most the head"),
]
MEDIA = {"json": "application/json", "csv": "text/csv", "pdf": "application/pdf"}


def _form(request: Request, given: str | None, allowed: tuple[str, ...]) -> str:
    if given is not None:
        return given
    accept = request.headers.get("accept", "")
    for form in allowed:
        if form != "json" and MEDIA[form] in accept:
            return form
    return "json"


def _file(content: str | bytes, form: str, name: str) -> Response:
    return Response(
        content,
        media_type=MEDIA[form],
        headers={"Content-Disposition": f'attachment; filename="{name}.{form}"'},
    )


def _span(
    rt: Runtime,
    ledger: cash.CashLedger,
    from_date: date | None,
    to_date: date | None,
    from_block: int | None,
    to_block: int | None,
) -> svc.Period:
    return svc.period(
        rt=rt,
        ledger=ledger,
        from_date=from_date,
        to_date=to_date,
        from_block=from_block,
        to_block=to_block,
    )


@router.get("/cash", response_model=CashOut)
def my_cash(
    me: CurrentMember,
    rt: RuntimeDep,
    mirror: MirrorDep,
    block: Annotated[
        int | None,
        Query(ge=0, lt=DB_INT, description="default: the mirror's cursor; at most the head"),
    ] = None,
) -> CashOut:
    """Its cash, and the cash in escrow on its behalf (its open offers; as a debtor, what it
    repaid that is not yet paid out), now or at the end of `block`."""
    at = None if block is None else holdings_block(rt=rt, block=block)
    body = cash.position(
        mirror=mirror,
        ledger=cash.CashLedger.of(rt),
        address=me.address,
        block=at,
        cursor=rt.mirror_cursor(),
    )
    return CashOut.model_validate(body)


@router.get(
    "/statement",
    response_model=StatementOut,
    responses={200: {"content": {"text/csv": {}, "application/pdf": {}}}},
)
def my_statement(
    request: Request,
    me: CurrentMember,
    rt: RuntimeDep,
    session: SessionDep,
    mirror: MirrorDep,
    from_date: FromDate = None,
    to_date: ToDate = None,
    from_block: BlockQuery = None,
    to_block: ToBlock = None,
    format: Annotated[Literal["json", "csv", "pdf"] | None, Query()] = None,
) -> Response:
    """Every movement of its cash in the period, each with its reason in words, counterparty,
    transaction, time and running balance; the opening and closing balance."""
    ledger = cash.CashLedger.of(rt)
    span = _span(rt, ledger, from_date, to_date, from_block, to_block)
    body = svc.statement(
        mirror=mirror,
        ledger=ledger,
        address=me.address,
        span=span,
        currency=rt.settings.settlement_currency,
    )
    form = _form(request, format, ("json", "csv", "pdf"))
    name = f"statement-{span.from_block}-{span.to_block}"
    if form == "csv":
        return _file(svc.statement_csv(_named(session, body)), form, name)
    if form == "pdf":
        return _file(statement_pdf(_named(session, body)), form, name)
    return JSONResponse(body)  # named on the way out, as every JSON answer


@router.get(
    "/remittances", response_model=RemittanceOut, responses={200: {"content": {"text/csv": {}}}}
)
def my_remittances(
    request: Request,
    me: CurrentMember,
    rt: RuntimeDep,
    session: SessionDep,
    mirror: MirrorDep,
    from_date: FromDate = None,
    to_date: ToDate = None,
    from_block: BlockQuery = None,
    to_block: ToBlock = None,
    format: Annotated[Literal["json", "csv"] | None, Query()] = None,
) -> Response:
    """Remittance advice: each payout to it in the period, its receivable and piece, the
    piece's share, and the part of each repayment it carries."""
    ledger = cash.CashLedger.of(rt)
    span = _span(rt, ledger, from_date, to_date, from_block, to_block)
    body = svc.remittances(
        mirror=mirror,
        ledger=ledger,
        address=me.address,
        span=span,
        currency=rt.settings.settlement_currency,
    )
    if _form(request, format, ("json", "csv")) == "csv":
        return _file(
            svc.remittance_csv(_named(session, body)),
            "csv",
            f"remittances-{span.from_block}-{span.to_block}",
        )
    return JSONResponse(body)


def _named(session: Session, body: dict[str, Any]) -> dict[str, Any]:
    """The CSV and PDF forms name parties as the JSON answers do (`backend.api.names`)."""
    found: set[str] = set()
    addresses(body, found)
    named: dict[str, Any] = with_names(body, names_for(session, found))
    return named


@router.get("/holdings", response_model=list[HoldingOut])
def my_holdings(me: CurrentMember, rt: RuntimeDep, mirror: MirrorDep) -> list[HoldingOut]:
    """The pieces it holds: face amount, price paid where it bought, days to maturity, the
    debtor, paid out so far (the same answer as /v1/holdings, for any member)."""
    return financier.holdings(rt=rt, mirror=mirror, me=me)


@router.get("/action-log", responses={200: {"content": {"text/csv": {}}}})
def my_action_log(
    request: Request,
    me: CurrentMember,
    session: SessionDep,
    user: LogUser = None,
    action: LogAction = None,
    since: Since = None,
    until: Until = None,
    cursor: After = 0,
    limit: Limit = 100,
    format: Annotated[Literal["json", "csv"] | None, Query()] = None,
) -> Response:
    """Its own entries of the off-chain action log, oldest first: its logins (refused ones
    too), API keys, uploads, its people's actions. Another member's never; the whole log is
    the auditors' (`/v1/audit/action-log`). A staff user without `users.admin` reads only its
    own entries (another user's: 403 MissingPermission). `next_cursor` pages on."""
    filt = action_log.own_filter(me, user=user, action=action, since=since, until=until)
    rows, nxt = action_log.page(session, filt, after=cursor, limit=limit)
    if _form(request, format, ("json", "csv")) == "csv":
        return _file(to_csv(rows, action_log.COLUMNS), "csv", "action-log")
    return JSONResponse({"items": rows, "next_cursor": nxt})
