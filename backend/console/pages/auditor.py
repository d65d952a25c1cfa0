"""The auditor's pages (auditors and regulators): a ledger explorer over the audit service —
exposure and aging drawn as charts, events with filters, a receivable's provenance drawn as a
tree, holdings as of a block, reconciliation against the chain — and each report's CSV, the
very file its /v1/audit route serves."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from markupsafe import Markup
from sqlmodel import Session

from backend.api.deps import MirrorDep, RuntimeDep, SessionDep
from backend.api.params import Id40
from backend.api.routes import audit as audit_routes
from backend.console import i18n, pictures
from backend.console.render import PREFIX, language, names, redirect, render
from backend.console.session import AuditorViewer
from backend.errors import InvalidInput
from backend.services import audit
from backend.services import directory as members_directory
from chain.addresses import parse_address

router = APIRouter(prefix=f"{PREFIX}/auditor", include_in_schema=False)
HOME = f"{PREFIX}/auditor"
PAGE = 100
#: Two charts side by side in the content column.
CHART_WIDTH = 560
#: The filters a person types into the explorer's forms: empty means "any".
Typed = Annotated[str | None, Query(max_length=80)]


def gettext(request: Request) -> pictures.Gettext:
    return i18n.translations(language(request)).gettext


def _block(value: str | None, field: str) -> int | None:
    """A block number typed into a form; empty is none."""
    text = (value or "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) >= 2**63:
        raise InvalidInput(
            f"{field}: {value!r} is not a block number",
            details={"fields": [{"field": field, "msg": "a block number, like 120"}]},
        )
    return int(text)


def _address(value: str | None, field: str) -> str | None:
    text = (value or "").strip()
    if not text:
        return None
    try:
        return parse_address(text).lower()
    except ValueError as exc:
        raise InvalidInput(
            f"{field}: {exc}", details={"fields": [{"field": field, "msg": str(exc)}]}
        ) from exc


def _event(value: str | None) -> str | None:
    text = (value or "").strip()
    if text and not (text.isascii() and text.isalpha() and len(text) <= 64):
        raise InvalidInput(
            f"event: {value!r} is not an event name",
            details={"fields": [{"field": "event", "msg": "an event name, like PieceSplit"}]},
        )
    return text or None


def _members(session: Session) -> list[dict[str, str]]:
    """Every member by name, for the filters' choices (auditors see the whole directory)."""
    known = members_directory.all_names(session)
    return sorted(({"address": a, "name": n} for a, n in known.items()), key=lambda m: m["name"])


@router.get("")
def home(request: Request, seen: AuditorViewer, rt: RuntimeDep, mirror: MirrorDep) -> Response:
    _ = gettext(request)
    known = names(request, language(request))
    aging = audit.aging(rt=rt, mirror=mirror)
    exposure = audit.exposure(rt=rt, mirror=mirror)
    charts = {
        "aging": pictures.aging_chart(aging, _=_, width=CHART_WIDTH, titled=False),
        "by_debtor": pictures.exposure_by_debtor(
            exposure, names=known, _=_, width=CHART_WIDTH, titled=False
        ),
        "by_financier": pictures.exposure_by_financier(
            exposure, names=known, _=_, width=CHART_WIDTH, titled=False
        ),
    }
    return render(
        request,
        "auditor/home.html",
        {
            "aging": aging,
            "exposure": exposure,
            "charts": charts,
            "cursor": rt.mirror_cursor(),
        },
    )


@router.get("/roots")
def open_root(seen: AuditorViewer, root_id: Typed = None) -> Response:
    """The "open a receivable" form: to the receivable's page."""
    text = (root_id or "").strip().lstrip("#")
    if not text.isdigit() or not 0 < int(text) < 2**40:
        raise InvalidInput(
            f"receivable: {root_id!r} is not a receivable number",
            details={"fields": [{"field": "root_id", "msg": "a receivable number, like 12"}]},
        )
    return redirect(f"{HOME}/roots/{int(text)}")


def _flat(pieces: list[dict[str, Any]], level: int = 0) -> list[dict[str, Any]]:
    """The nested pieces in tree order, each with its level: the picture's text alternative."""
    out = []
    for p in pieces:
        out.append({**p, "level": level})
        out += _flat(p["children"], level + 1)
    return out


@router.get("/roots/{root_id}")
def root_page(
    request: Request, root_id: Id40, seen: AuditorViewer, rt: RuntimeDep, mirror: MirrorDep
) -> Response:
    tree = audit.root_tree(rt=rt, mirror=mirror, root_id=root_id)
    picture: Markup = pictures.provenance_tree(
        tree, names=names(request, language(request)), _=gettext(request)
    )
    return render(
        request,
        "auditor/root.html",
        {
            "root": tree["root"],
            "pieces": _flat(tree["pieces"]),
            "history": tree["history"],
            "picture": picture,
        },
    )


@router.get("/roots/{root_id}/history.csv")
def root_csv(root_id: Id40, seen: AuditorViewer, rt: RuntimeDep, mirror: MirrorDep) -> Response:
    return audit_routes.root_tree(
        root_id=root_id, me=seen.member, rt=rt, mirror=mirror, format="csv"
    )


@dataclass(frozen=True)
class EventFilters:
    """The explorer's event filters, checked once for the page and its CSV alike."""

    from_block: int | None
    to_block: int | None
    contract: str | None
    event: str | None
    party: str | None

    def query(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def event_filters(
    from_block: Typed = None,
    to_block: Typed = None,
    contract: Typed = None,
    event: Typed = None,
    party: Typed = None,
) -> EventFilters:
    return EventFilters(
        from_block=_block(from_block, "from_block"),
        to_block=_block(to_block, "to_block"),
        contract=(contract or "").strip() or None,
        event=_event(event),
        party=_address(party, "party"),
    )


Filters = Annotated[EventFilters, Depends(event_filters)]
Cursor = Annotated[int, Query(ge=0, lt=2**63)]


@router.get("/events")
def events_page(
    request: Request,
    seen: AuditorViewer,
    rt: RuntimeDep,
    mirror: MirrorDep,
    session: SessionDep,
    filters: Filters,
    cursor: Cursor = 0,
) -> Response:
    items, nxt = audit.events(
        rt=rt,
        mirror=mirror,
        from_block=filters.from_block,
        to_block=filters.to_block,
        contract=filters.contract,
        event=filters.event,
        party=filters.party,
        after=cursor,
        limit=PAGE,
    )
    return render(
        request,
        "auditor/events.html",
        {
            "items": items,
            "next_cursor": nxt,
            "filters": asdict(filters),
            "query": filters.query(),
            "cursor": cursor,
            "members": _members(session),
            "contracts": ("Receivables", "SettlementToken", "MemberRegistry"),
        },
    )


@router.get("/events.csv")
def events_csv(
    seen: AuditorViewer, rt: RuntimeDep, mirror: MirrorDep, filters: Filters, cursor: Cursor = 0
) -> Response:
    """The page of events the explorer shows, as GET /v1/audit/events?format=csv gives it."""
    return audit_routes.events(
        me=seen.member,
        rt=rt,
        mirror=mirror,
        from_block=filters.from_block,
        to_block=filters.to_block,
        contract=filters.contract,
        event=filters.event,
        party=filters.party,
        cursor=cursor,
        limit=PAGE,
        format="csv",
    )


@router.get("/holdings")
def holdings_page(
    request: Request,
    seen: AuditorViewer,
    rt: RuntimeDep,
    mirror: MirrorDep,
    session: SessionDep,
    block: Typed = None,
    holder: Typed = None,
    cursor: Annotated[int, Query(ge=0, lt=2**63)] = 0,
) -> Response:
    at = audit.holdings_block(rt=rt, block=_block(block, "block"))
    owner = _address(holder, "holder")
    rows = audit.holdings_at(rt=rt, mirror=mirror, block=at, holder=owner, after=cursor, limit=PAGE)
    query = {"block": at, **({"holder": owner} if owner else {})}
    return render(
        request,
        "auditor/holdings.html",
        {
            "rows": rows,
            "block": at,
            "holder": owner,
            "query": query,
            "next_cursor": rows[-1]["piece_id"] if len(rows) == PAGE else None,
            "head": rt.mirror_cursor(),
            "members": _members(session),
        },
    )


@router.get("/holdings.csv")
def holdings_csv(
    seen: AuditorViewer,
    rt: RuntimeDep,
    session: SessionDep,
    mirror: MirrorDep,
    block: Typed = None,
    holder: Typed = None,
) -> Response:
    """Every holding at the block (one holder's with `holder`), streamed as the API streams it."""
    return audit_routes.holdings(
        me=seen.member,
        rt=rt,
        session=session,
        mirror=mirror,
        block=_block(block, "block"),
        holder=_address(holder, "holder"),
        cursor=0,
        limit=None,
        format="csv",
    )


@router.get("/exposure.csv")
def exposure_csv(
    seen: AuditorViewer,
    rt: RuntimeDep,
    mirror: MirrorDep,
    by: Annotated[Literal["debtor", "financier"], Query()] = "debtor",
) -> Response:
    return audit_routes.exposure(me=seen.member, rt=rt, mirror=mirror, format="csv", by=by)


@router.get("/aging.csv")
def aging_csv(seen: AuditorViewer, rt: RuntimeDep, mirror: MirrorDep) -> Response:
    return audit_routes.aging(me=seen.member, rt=rt, mirror=mirror, format="csv")


@router.get("/reconciliation")
def reconciliation_page(request: Request, seen: AuditorViewer, rt: RuntimeDep) -> Response:
    return render(request, "auditor/reconciliation.html", {"report": audit.reconciliation(rt=rt)})


@router.get("/reconciliation.csv")
def reconciliation_csv(seen: AuditorViewer, rt: RuntimeDep) -> Response:
    return audit_routes.reconciliation(me=seen.member, rt=rt, format="csv")
