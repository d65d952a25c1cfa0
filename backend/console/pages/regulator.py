"""The regulator's pages: a search over the whole ledger (members, receivables, invoices,
pieces) leading to each one's page, freezing and unfreezing a receivable or a piece with a
reason, and what is frozen now with who froze it, when and why. Reads and writes go through
the services /v1/regulator, /v1/members and /v1/directory call, with the same checks."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Path, Query, Request, Response

from backend.api.deps import MirrorDep, RuntimeDep, SessionDep
from backend.api.params import AddressPath
from backend.console.forms import ConsoleWrite, build
from backend.console.i18n import N_
from backend.console.pages.operator import ROLES
from backend.console.render import PREFIX, redirect, render, tr
from backend.console.session import RegulatorViewer
from backend.errors import InvalidInput, NotFound
from backend.models import TxStatus
from backend.permissions import permission_for
from backend.schemas import ProfileOut, ReasonIn
from backend.services import directory, operator, supervision, supplier
from backend.services import regulator as svc
from backend.services.supplier import invoice_out
from backend.services.tx import respond
from backend.services.views import root_out, visible_root

router = APIRouter(prefix=f"{PREFIX}/regulator", include_in_schema=False)
HOME = f"{PREFIX}/regulator"
Id40 = Annotated[int, Path(gt=0, lt=2**40)]
#: the page of each kind, by the name its form posts to
PAGES = {"receivables": "receivables", "pieces": "pieces"}
#: the status badge of a frozen receivable or piece (`status("frozen")` in the templates)
FROZEN = N_("frozen")
Which = tuple[str, str]
DONE: dict[Which, str] = {
    ("receivables", "freeze"): N_("Receivable %(id)s frozen: %(reason)s"),
    ("receivables", "unfreeze"): N_("Receivable %(id)s unfrozen: %(reason)s"),
    ("pieces", "freeze"): N_("Piece %(id)s frozen: %(reason)s"),
    ("pieces", "unfreeze"): N_("Piece %(id)s unfrozen: %(reason)s"),
}
#: a freeze or an unfreeze without a reason: the ledger keeps one, and the parties read it
MISSING: dict[Which, str] = {
    ("receivables", "freeze"): N_(
        "Give the reason to freeze receivable %(id)s: its holders and its debtor are told it."
    ),
    ("receivables", "unfreeze"): N_(
        "Give the reason to unfreeze receivable %(id)s: its holders and its debtor are told it."
    ),
    ("pieces", "freeze"): N_("Give the reason to freeze piece %(id)s: its holder is told it."),
    ("pieces", "unfreeze"): N_("Give the reason to unfreeze piece %(id)s: its holder is told it."),
}


@router.get("")
def home(
    request: Request,
    seen: RegulatorViewer,
    rt: RuntimeDep,
    session: SessionDep,
    mirror: MirrorDep,
    q: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    found = None
    if q is not None:
        found = supervision.search(rt=rt, session=session, mirror=mirror, me=seen.member, query=q)
    return render(
        request,
        "regulator/home.html",
        {
            "q": q or "",
            "role_names": dict(ROLES),
            "found": found,
            "frozen": supervision.frozen_now(rt=rt, mirror=mirror, me=seen.member),
        },
    )


@router.get("/receivables/{root_id}")
def receivable(
    request: Request,
    root_id: Id40,
    seen: RegulatorViewer,
    rt: RuntimeDep,
    session: SessionDep,
    mirror: MirrorDep,
) -> Response:
    root = root_out(visible_root(mirror, rt, seen.member, root_id))
    doc = supervision.invoice_of_root(session, root_id)
    pieces = supplier.list_pieces(
        rt=rt,
        session=session,
        mirror=mirror,
        me=seen.member,
        held=False,
        root_id=root_id,
        limit=500,
        after=0,
    )
    return render(
        request,
        "regulator/receivable.html",
        {
            "root": root,
            "invoice": invoice_out(doc, None) if doc else None,
            "pieces": pieces,
            "freeze": supervision.freeze_of(rt=rt, mirror=mirror, kind="root", target=root_id)
            if root.frozen
            else None,
        },
    )


@router.get("/pieces/{piece_id}")
def piece(
    request: Request,
    piece_id: Id40,
    seen: RegulatorViewer,
    rt: RuntimeDep,
    session: SessionDep,
    mirror: MirrorDep,
) -> Response:
    found = supplier.get_piece(
        rt=rt, session=session, mirror=mirror, me=seen.member, piece_id=piece_id
    )
    root = root_out(visible_root(mirror, rt, seen.member, found.root_id))
    return render(
        request,
        "regulator/piece.html",
        {
            "piece": found,
            "root": root,
            "freeze": supervision.freeze_of(rt=rt, mirror=mirror, kind="piece", target=piece_id)
            if found.frozen
            else None,
        },
    )


@router.get("/members/{address}")
def member(
    request: Request,
    address: AddressPath,
    seen: RegulatorViewer,
    rt: RuntimeDep,
    session: SessionDep,
    mirror: MirrorDep,
) -> Response:
    shown = operator.get_member(rt=rt, mirror=mirror, address=address)
    entry: ProfileOut | None
    try:
        entry = directory.entry(session, mirror, rt, seen.member, address)
    except NotFound:
        entry = None  # a member admitted without a directory entry
    return render(
        request,
        "regulator/member.html",
        {"member": shown, "entry": entry, "role_names": dict(ROLES)},
    )


@router.post("/{kind}/{target}/{action}")
def freeze(
    request: Request,
    kind: Literal["receivables", "pieces"],
    target: Id40,
    action: Literal["freeze", "unfreeze"],
    seen: RegulatorViewer,
    ctx: ConsoleWrite,
    reason: Annotated[str, Form()] = "",
) -> Response:
    """As POST /v1/regulator/{roots|pieces}/{id}/{freeze|unfreeze}, with its reason."""
    seen.member.require(permission_for("root.freeze"))
    if not reason.strip():
        raise InvalidInput(
            tr(request, MISSING[(kind, action)], id=target),
            code="ReasonMissing",
            details={"fields": [{"field": "reason", "msg": "required"}]},
        )
    body = build(ReasonIn, reason=reason.strip())
    out = respond(
        ctx.rt,
        svc.freeze(
            ctx=ctx,
            me=seen.member,
            kind="root" if kind == "receivables" else "piece",
            target=target,
            frozen=action == "freeze",
            reason=body.reason,
        ),
    )
    page = f"{HOME}/{PAGES[kind]}/{target}"
    if out.status == TxStatus.PENDING_APPROVAL:
        return redirect(
            page, flash=tr(request, "Sent for approval: nothing changes until it is approved.")
        )
    return redirect(page, flash=tr(request, DONE[(kind, action)], id=target, reason=body.reason))
