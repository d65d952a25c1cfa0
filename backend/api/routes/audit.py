"""/v1/audit: read-everything reports for auditors and regulators; `?format=csv` on each."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response, StreamingResponse
from sqlmodel import col, select

from backend.api.deps import Auditor, MirrorDep, RuntimeDep, SessionDep
from backend.api.errors import ERROR_RESPONSES
from backend.api.names import with_names
from backend.api.params import (
    DB_INT,
    AddressQuery,
    After,
    BlockQuery,
    Id40,
    Limit,
    LogAction,
    LogUser,
    Since,
    Until,
)
from backend.models import Alert
from backend.services import action_log, directory
from backend.services import audit as svc

router = APIRouter(prefix="/v1/audit", tags=["audit"], responses=ERROR_RESPONSES)
Format = Annotated[Literal["json", "csv"], Query(description="csv for a spreadsheet export")]


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}.csv"'}


def _out(fmt: str, body: Any, rows: list[dict[str, Any]], name: str, columns: str) -> Response:
    if fmt == "csv":
        csv = svc.to_csv(rows, svc.COLUMNS[columns])
        return Response(csv, media_type="text/csv", headers=_attachment(name))
    return JSONResponse(body)


@router.get("/events")
def events(
    me: Auditor,
    rt: RuntimeDep,
    mirror: MirrorDep,
    from_block: BlockQuery = None,
    to_block: BlockQuery = None,
    contract: Annotated[
        str | None,
        Query(
            max_length=32,
            description="MemberRegistry, SettlementToken, Receivables or registry, token, "
            "receivables, in any case",
        ),
    ] = None,
    event: Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z]+$")] = None,
    party: AddressQuery = None,
    cursor: After = 0,
    limit: Limit = 100,
    format: Format = "json",
) -> Response:
    """Ledger events by block range, contract, event name, party; cursor pagination."""
    items, nxt = svc.events(
        rt=rt,
        mirror=mirror,
        from_block=from_block,
        to_block=to_block,
        contract=contract,
        event=event,
        party=party,
        after=cursor,
        limit=limit,
    )
    return _out(format, {"items": items, "next_cursor": nxt}, items, "events", "events")


@router.get("/roots/{root_id}")
def root_tree(
    root_id: Id40, me: Auditor, rt: RuntimeDep, mirror: MirrorDep, format: Format = "json"
) -> Response:
    """A receivable with its whole piece tree and its history."""
    tree = svc.root_tree(rt=rt, mirror=mirror, root_id=root_id)
    return _out(format, tree, tree["history"], f"root-{root_id}", "history")


@router.get("/holdings")
def holdings(
    me: Auditor,
    rt: RuntimeDep,
    session: SessionDep,
    mirror: MirrorDep,
    block: Annotated[
        int | None,
        Query(ge=0, lt=DB_INT, description="default: the mirror's cursor; at most the head"),
    ] = None,
    holder: AddressQuery = None,
    cursor: Annotated[int, Query(ge=0, lt=DB_INT, description="pieces after this piece id")] = 0,
    limit: Annotated[
        int | None, Query(ge=1, le=10_000, description="default: every holding, streamed")
    ] = None,
    format: Format = "json",
) -> Response:
    """Who held which piece at the end of `block` (one holder's with `holder`; a page at a time
    with `limit`, continued from `next_cursor`). Without `limit`, every holding, streamed."""
    at = svc.holdings_block(rt=rt, block=block)
    if limit is None:  # read and sent a page at a time: memory stays flat on a large ledger
        pages = svc.holdings_pages(rt=rt, mirror=mirror, block=at, holder=holder, after=cursor)
        if format == "csv":
            return StreamingResponse(
                svc.csv_chunks(pages, svc.COLUMNS["holdings"]),
                media_type="text/csv",
                headers=_attachment(f"holdings-{at}"),
            )
        head = {"block": at, "next_cursor": None}
        known = directory.all_names(session)  # streamed: named here, as the middleware would
        named = ([with_names(row, known) for row in page] for page in pages)
        return StreamingResponse(
            svc.json_chunks(head, "holdings", named), media_type="application/json"
        )
    rows = svc.holdings_at(rt=rt, mirror=mirror, block=at, holder=holder, after=cursor, limit=limit)
    nxt = rows[-1]["piece_id"] if len(rows) == limit else None
    body = {"block": at, "holdings": rows, "next_cursor": nxt}
    return _out(format, body, rows, f"holdings-{at}", "holdings")


@router.get("/exposure")
def exposure(
    me: Auditor,
    rt: RuntimeDep,
    mirror: MirrorDep,
    format: Format = "json",
    by: Literal["debtor", "financier"] = "debtor",
) -> Response:
    """Outstanding by debtor, and financiers' exposure by debtor."""
    body = svc.exposure(rt=rt, mirror=mirror)
    return _out(format, body, body[f"by_{by}"], f"exposure-{by}", f"exposure-{by}")


@router.get("/aging")
def aging(me: Auditor, rt: RuntimeDep, mirror: MirrorDep, format: Format = "json") -> Response:
    """Outstanding receivables by days overdue: current, 1-30, 31-90, >90."""
    body = svc.aging(rt=rt, mirror=mirror)
    return _out(format, body, body["receivables"], "aging", "aging")


@router.get("/reconciliation")
def reconciliation(me: Auditor, rt: RuntimeDep, format: Format = "json") -> Response:
    """The mirror compared field by field with the chain at the mirror's cursor."""
    body = svc.reconciliation(rt=rt)
    return _out(format, body, body["mismatches"], "reconciliation", "reconciliation")


@router.get("/alerts")
def alerts(
    me: Auditor, session: SessionDep, limit: Limit = 100, format: Format = "json"
) -> Response:
    """What the keeper found wrong (reconciliation mismatches)."""
    rows = [
        {
            "id": a.id,
            "kind": a.kind,
            "message": a.message,
            "details": a.details,
            "created_at": a.created_at.isoformat(),
        }
        for a in session.exec(select(Alert).order_by(col(Alert.id).desc()).limit(limit)).all()
    ]
    return _out(format, {"items": rows}, rows, "alerts", "alerts")


@router.get("/action-log")
def action_log_entries(
    me: Auditor,
    session: SessionDep,
    member: AddressQuery = None,
    user: LogUser = None,
    action: LogAction = None,
    since: Since = None,
    until: Until = None,
    cursor: After = 0,
    limit: Limit = 100,
    format: Format = "json",
) -> Response:
    """The off-chain action log (logins, keys, ...), oldest first, each entry with the hash
    that chains it to the one before; `scf audit verify-log` checks the chain and its anchors
    on the ledger. `next_cursor` pages on."""
    filt = action_log.LogFilter(member=member, user=user, action=action, since=since, until=until)
    rows, nxt = action_log.page(session, filt, after=cursor, limit=limit)
    if format == "csv":
        csv = svc.to_csv(rows, action_log.COLUMNS)
        return Response(csv, media_type="text/csv", headers=_attachment("action-log"))
    return JSONResponse({"items": rows, "next_cursor": nxt})


@router.get("/action-log/verify")
def action_log_verify(me: Auditor, rt: RuntimeDep, session: SessionDep) -> JSONResponse:
    """The whole check `scf audit verify-log` makes, made by this API: every entry's hash, every
    link to the one before, no gap in the sequence, and every anchor of the head the ledger
    holds (read from the chain itself). `ok` false names the first break (`first_break`,
    `broken_seq`) and lists every one (`problems`). For a chain that lives only in the API's
    process (the embedded profile), or a database the auditor cannot reach itself."""
    return JSONResponse(action_log.verify_with_ledger(rt, session).as_dict())
