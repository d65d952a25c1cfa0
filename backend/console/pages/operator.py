"""The operator's pages: the consortium's members (names, roles, status, credit limit and
usage) and each one's page with its directory entry, changing roles and credit limits,
suspending and reactivating, onboarding a member (its activation code shown once), and pausing
the ledger. Reads and writes go through the services /v1/operator, /v1/members, /v1/ledger
and /v1/directory call, with the same checks."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request, Response

from backend.api.deps import MirrorDep, RuntimeDep, SessionDep
from backend.api.params import AddressPath
from backend.console.format import money
from backend.console.forms import ConsoleWrite, build, yuan_to_fen
from backend.console.i18n import N_
from backend.console.render import PREFIX, redirect, render, tr
from backend.console.session import OperatorViewer
from backend.errors import InvalidInput, NotFound
from backend.models import TxStatus
from backend.permissions import permission_for
from backend.schemas import CreditLimitIn, MemberIn, ProfileOut, RolesIn, StatusIn, TxRequestOut
from backend.services import directory, ledger, operator
from backend.services.tx import respond
from chain.enums import Role

router = APIRouter(prefix=f"{PREFIX}/operator", include_in_schema=False)
HOME = f"{PREFIX}/operator"
MAX_MEMBERS = 500
#: the roles a form offers, in the API's names, with the label the page shows
ROLES: tuple[tuple[str, str], ...] = (
    ("OPERATOR", N_("operator")),
    ("CORE_ENTERPRISE", N_("core enterprise")),
    ("SUPPLIER", N_("supplier")),
    ("FINANCIER", N_("financier")),
    ("REGULATOR", N_("regulator")),
    ("AUDITOR", N_("auditor")),
)
PENDING = N_("Sent for approval: nothing changes until it is approved.")


def _sent(request: Request, out: TxRequestOut, page: str, message: str) -> Response:
    """Back to `page` saying what was done, or that it waits for the member's approvers."""
    if out.status == TxStatus.PENDING_APPROVAL:
        return redirect(page, flash=tr(request, PENDING))
    return redirect(page, flash=message)


def _roles_of(value: list[str]) -> list[str]:
    known = {name for name, _ in ROLES}
    unknown = [v for v in value if v not in known]
    if unknown or not value:
        raise InvalidInput(
            "roles: choose at least one role"
            if not value
            else f"roles: {', '.join(unknown)} is not a role",
            details={"fields": [{"field": "roles", "msg": "choose at least one role"}]},
        )
    return value


@router.get("")
def home(request: Request, seen: OperatorViewer, rt: RuntimeDep, mirror: MirrorDep) -> Response:
    members = operator.list_members(rt=rt, mirror=mirror, limit=MAX_MEMBERS, after="")
    return render(
        request,
        "operator/home.html",
        {
            "ledger": ledger.settings(mirror, rt),
            "members": members,
            "core": Role.CORE_ENTERPRISE.name,
            "role_names": dict(ROLES),
        },
    )


@router.get("/members/new")
def new_member(request: Request, seen: OperatorViewer) -> Response:
    return render(request, "operator/member_new.html", {"roles": ROLES})


@router.post("/members")
def onboard(
    request: Request,
    seen: OperatorViewer,
    ctx: ConsoleWrite,
    legal_name: Annotated[str, Form()] = "",
    short_name: Annotated[str, Form()] = "",
    credit_code: Annotated[str, Form()] = "",
    contact_email: Annotated[str, Form()] = "",
    contact_phone: Annotated[str, Form()] = "",
    roles: Annotated[list[str] | None, Form()] = None,
    credit_limit: Annotated[str, Form()] = "",
) -> Response:
    """As POST /v1/operator/members without an address (a custodial member): the page shows
    the activation code once, and nothing keeps it but a hash."""
    seen.member.require(permission_for("member.add"))
    limit = yuan_to_fen(credit_limit, field="credit_limit") if credit_limit.strip() else 0
    profile = {
        "legal_name": legal_name.strip(),
        "short_name": short_name.strip() or None,
        "contact_email": contact_email.strip() or None,
        "contact_phone": contact_phone.strip() or None,
    }
    body = build(
        MemberIn,
        legal_id=credit_code.strip(),
        roles=_roles_of(roles or []),
        credit_limit=limit,
        profile=profile,
    )
    created = operator.onboard(ctx=ctx, me=seen.member, body=body)
    return render(
        request,
        "operator/member_created.html",
        {"created": created, "legal_name": body.profile.legal_name if body.profile else ""},
    )


@router.get("/members/{address}")
def member(
    request: Request,
    address: AddressPath,
    seen: OperatorViewer,
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
        "operator/member.html",
        {
            "member": shown,
            "entry": entry,
            "roles": ROLES,
            "role_names": dict(ROLES),
            "core": Role.CORE_ENTERPRISE.name,
        },
    )


@router.post("/members/{address}/roles")
def set_roles(
    request: Request,
    address: AddressPath,
    seen: OperatorViewer,
    ctx: ConsoleWrite,
    roles: Annotated[list[str] | None, Form()] = None,
) -> Response:
    seen.member.require(permission_for("member.roles"))
    body = build(RolesIn, roles=_roles_of(roles or []))
    out = respond(
        ctx.rt, operator.set_roles(ctx=ctx, me=seen.member, address=address, roles=list(body.roles))
    )
    page = f"{HOME}/members/{address}"
    return _sent(
        request, out, page, tr(request, "Roles changed to %(roles)s.", roles=", ".join(body.roles))
    )


@router.post("/members/{address}/credit-limit")
def set_credit_limit(
    request: Request,
    address: AddressPath,
    seen: OperatorViewer,
    ctx: ConsoleWrite,
    credit_limit: Annotated[str, Form()] = "",
) -> Response:
    """In yuan; 0 is allowed (no new payable), as the API takes it."""
    seen.member.require(permission_for("member.credit_limit"))
    text = credit_limit.strip()
    fen = 0 if text in ("0", "0.0", "0.00") else yuan_to_fen(text, field="credit_limit")
    body = build(CreditLimitIn, credit_limit=fen)
    out = operator.set_credit_limit(
        ctx=ctx, me=seen.member, address=address, credit_limit=body.credit_limit
    )
    page = f"{HOME}/members/{address}"
    message = tr(request, "Credit limit set to %(limit)s.", limit=money(body.credit_limit))
    if out.warnings:
        message += " " + tr(
            request,
            "It is below what the member already uses: it can confirm no new payable until "
            "repayments bring its usage under the limit.",
        )
    return _sent(request, out, page, message)


@router.post("/members/{address}/status")
def set_status(
    request: Request,
    address: AddressPath,
    seen: OperatorViewer,
    ctx: ConsoleWrite,
    status: Annotated[str, Form()] = "",
) -> Response:
    seen.member.require(permission_for("member.suspend"))
    body = build(StatusIn, status=status)
    out = respond(
        ctx.rt, operator.set_status(ctx=ctx, me=seen.member, address=address, status=body.status)
    )
    page = f"{HOME}/members/{address}"
    message = (
        tr(request, "Member suspended: the API and the ledger refuse it at once.")
        if body.status == "suspended"
        else tr(request, "Member reactivated.")
    )
    return _sent(request, out, page, message)


@router.post("/ledger/{action}")
def pause(
    request: Request,
    action: Literal["pause", "unpause"],
    seen: OperatorViewer,
    ctx: ConsoleWrite,
) -> Response:
    seen.member.require(permission_for(f"ledger.{action}"))
    out = respond(ctx.rt, operator.pause(ctx=ctx, me=seen.member, paused=action == "pause"))
    message = (
        tr(request, "The ledger is paused: no write goes through until it is unpaused.")
        if action == "pause"
        else tr(request, "The ledger runs again.")
    )
    return _sent(request, out, HOME, message)
