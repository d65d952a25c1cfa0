"""A member's people in the console: the staff login (password and a 6-digit code), the
password change a one-time password asks for first, and for the member's administrators its
staff users and approval policies (`backend.services.staff`, `backend.services.policies`)."""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request, Response
from sqlmodel import Session

from backend.api.deps import MirrorDep, RuntimeDep, SessionDep, client_of, runtime_of
from backend.api.errors import status_of
from backend.console.forms import build, yuan_to_fen
from backend.console.i18n import N_
from backend.console.pages.common import LOGIN_FORM_EXPIRED, login_page
from backend.console.render import EXTRA_NAV, PREFIX, NavItem, local_path, redirect, render, tr
from backend.console.session import (
    COOKIE,
    ActiveViewer,
    AnyViewer,
    Viewer,
    login_token_matches,
    set_session,
)
from backend.errors import DomainError, Forbidden, InvalidInput, TooManyRequests, Unauthenticated
from backend.models import StaffStatus
from backend.permissions import APPROVABLE, MAX_APPROVERS, Permission
from backend.schemas import (
    PolicyIn,
    StaffCredentials,
    StaffLoginIn,
    StaffUserIn,
    StaffUserPatch,
)
from backend.security import split_api_key
from backend.services import auth, policies, staff
from backend.services.context import Principal
from backend.services.views import member_row
from chain.enums import MemberStatus, Role

router = APIRouter(prefix=PREFIX, include_in_schema=False)
STAFF = f"{PREFIX}/staff"
POLICIES = f"{PREFIX}/staff/policies"
PASSWORD = f"{PREFIX}/password"
_ZERO = re.compile(r"^(0*(\.0{0,2})?)?$")

#: Each login refusal by its code, as a person reads it (the service's own words otherwise).
LOGIN_REFUSALS = {
    "BadCredentials": N_("Wrong login name, password or code."),
    "TotpReplayed": N_("That code was used already: wait for the next one and log in again."),
    "UserLockedOut": N_(
        "This user is locked out after repeated failed logins: try again later, "
        "or ask an administrator to reset it."
    ),
    "LoginLockedOut": N_("Too many failed logins from here: try again later."),
    "RateLimited": N_("Too many logins from here: wait a moment and try again."),
    "UserDisabled": N_("This user is disabled: ask an administrator."),
    "NotMember": N_("This user's member is not on the ledger."),
    "InvalidInput": N_("Type your login name, your password and the 6-digit code."),
    "LoginFormExpired": LOGIN_FORM_EXPIRED,
}

#: What each permission lets a user do, as the staff page explains it.
PERMISSION_LABELS: dict[str, str] = {
    Permission.VIEW: N_("see everything the member may see"),
    Permission.PREPARE_INVOICES: N_("register, cancel or refuse invoices; upload files"),
    Permission.CONFIRM_PAYABLES: N_("confirm, reject and issue payables"),
    Permission.REPAY: N_("repay"),
    Permission.POST_OFFERS: N_("post and withdraw offers"),
    Permission.ACCEPT_OFFERS: N_("ask for financing, accept offers"),
    Permission.TRANSFER: N_("split, pass on and claim pieces"),
    Permission.FREEZE: N_("freeze and unfreeze (the regulator)"),
    Permission.OPERATE: N_("the operator's writes"),
    Permission.ADMINISTER: N_("administer staff users and approval policies"),
}

#: Each action a policy may cover, in words.
ACTION_LABELS: dict[str, str] = {
    "root.register": N_("register an invoice"),
    "root.issue": N_("issue a payable"),
    "root.confirm": N_("confirm a receivable"),
    "root.reject": N_("reject an invoice"),
    "root.repay": N_("repay"),
    "offer.post": N_("post an offer"),
    "offer.accept": N_("accept an offer"),
    "piece.split": N_("split a piece"),
    "piece.transfer": N_("pass on a piece"),
}


def may_administer(seen: Viewer) -> bool:
    """The member itself, or one of its users holding users.admin."""
    return seen.member.may(Permission.ADMINISTER)


def _staff_nav(request: Request, seen: Viewer) -> bool:
    """Administrators; the member itself once it has people (the operator makes the first)."""
    if seen.member.user is not None:
        return may_administer(seen)
    with Session(runtime_of(request).engine) as session:
        return staff.has_staff(session, seen.member.address)


EXTRA_NAV.append(NavItem(STAFF, N_("Staff"), (), when=_staff_nav))


# -- login, password, logout ---------------------------------------------------------------------


def _refused(request: Request, exc: DomainError, *, next_path: str, login: str) -> Response:
    status = status_of(exc)
    page = login_page(
        request,
        {
            "next": next_path,
            "error": LOGIN_REFUSALS.get(exc.code, exc.message),
            "code": exc.code,
            "login_name": login,
        },
        status_code=status,
    )
    if isinstance(exc, TooManyRequests) and exc.retry_after is not None:
        page.headers["Retry-After"] = str(exc.retry_after)
    return page


def _end_old_session(request: Request, session: Session) -> None:
    """A bearer token left in the cookie is revoked (whoever it was, even one told to change
    its password): a login never keeps an earlier session alive."""
    old = request.cookies.get(COOKIE)
    if not old or split_api_key(old) is not None:
        return
    try:
        claims = runtime_of(request).tokens.verify(old)
    except Unauthenticated:
        return
    # auth.logout revokes the token a principal carries; only the token and its member matter
    holder = Principal(
        address=claims.address.lower(),
        roles=Role(0),
        entity_id="",
        credit_limit=0,
        credit_used=0,
        token=claims,
        source_ip=client_of(request),
    )
    auth.logout(session=session, me=holder)


@router.post("/login/staff")
def staff_login(
    request: Request,
    rt: RuntimeDep,
    session: SessionDep,
    mirror: MirrorDep,
    login: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    code: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
    login_csrf: Annotated[str, Form()] = "",
) -> Response:
    """Login name, password and the authenticator's code → a bearer token in a new session
    cookie, refused as POST /v1/auth/staff-login refuses (the page says why)."""
    target = local_path(next)
    name = login.strip()
    client = client_of(request)
    try:
        if not login_token_matches(request, login_csrf):
            raise Forbidden(LOGIN_FORM_EXPIRED, code="LoginFormExpired")
        body = build(StaffLoginIn, login=name, password=password, code=code.strip())
        rt.limiter.check_lockout(client)
        rt.limiter.hit(
            rt.limiter.auth_per_client, "auth", client, code="RateLimited", what="logins"
        )
        try:
            out = staff.login(rt=rt, session=session, body=body, source_ip=client)
        except Unauthenticated:
            rt.limiter.login_failed(client)
            raise
        row = member_row(mirror, rt, out.user.member)
        if row is None or row.status == MemberStatus.NONE:
            raise Forbidden("this user's member is not on the ledger", code="NotMember")
    except (InvalidInput, Unauthenticated, Forbidden, TooManyRequests) as exc:
        return _refused(request, exc, next_path=target, login=name)
    _end_old_session(request, session)
    if out.password_change_required:
        target = f"{PASSWORD}?next={quote(target)}"
    response = redirect(target)
    set_session(request, response, out.access_token)  # a new cookie: the old value is gone
    return response


@router.get("/password")
def password_form(request: Request, seen: AnyViewer, next: str | None = None) -> Response:
    if seen.member.user is None:
        raise Forbidden("only a staff user has a password", code="NotStaffUser")
    return render(
        request,
        "staff/password.html",
        {"next": local_path(next), "required": seen.member.user.must_change_password},
    )


@router.post("/password")
def change_password(
    request: Request,
    seen: AnyViewer,
    session: SessionDep,
    current_password: Annotated[str, Form()] = "",
    new_password: Annotated[str, Form()] = "",
    repeat_password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    user = seen.member.user
    if user is None:
        raise Forbidden("only a staff user has a password", code="NotStaffUser")
    target = local_path(next)
    error: str | None = None
    code = ""
    if new_password != repeat_password:
        error, code = (
            N_("The two new passwords differ: type the same one twice."),
            "PasswordMismatch",
        )
    else:
        try:
            staff.change_password(
                session=session, me=seen.member, current=current_password, new=new_password
            )
        except Unauthenticated as exc:  # not a lost session: the page says so
            error, code = N_("The current password is wrong."), exc.code
        except InvalidInput as exc:
            error, code = (
                N_(
                    "Choose a new password of at least 12 characters, "
                    "not your login name nor the old one."
                ),
                exc.code,
            )
    if error is not None:
        return render(
            request,
            "staff/password.html",
            {"next": target, "required": user.must_change_password, "error": error, "code": code},
            status_code=401 if code == "BadCredentials" else 422,
        )
    return redirect(target, flash=tr(request, "Your password is changed."))


# -- staff users ---------------------------------------------------------------------------------


def _administrator(seen: Viewer) -> None:
    seen.member.require(Permission.ADMINISTER)


def _limit(value: str, *, field: str) -> int | None:
    """An amount limit typed in yuan; empty: no limit."""
    return yuan_to_fen(value, field=field) if value.strip() else None


def _permissions(request_form: list[str]) -> list[Permission]:
    known = {str(p) for p in Permission}
    unknown = [p for p in request_form if p not in known]
    if unknown:
        raise InvalidInput(
            f"permissions: {', '.join(unknown)} is not a permission",
            details={"fields": [{"field": "permissions", "msg": "unknown permission"}]},
        )
    return [Permission(p) for p in request_form]


def _staff_page(request: Request, seen: Viewer, session: Session) -> Response:
    return render(
        request,
        "staff/users.html",
        {
            "users": staff.list_users(session=session, me=seen.member),
            "permission_labels": PERMISSION_LABELS,
            "statuses": [str(s) for s in StaffStatus],
        },
    )


@router.get("/staff")
def users_page(request: Request, seen: ActiveViewer, session: SessionDep) -> Response:
    _administrator(seen)
    return _staff_page(request, seen, session)


async def _form_list(request: Request, name: str) -> list[str]:
    form = await request.form()
    return [str(v) for v in form.getlist(name)]


@router.post("/staff/users")
async def add_user(
    request: Request,
    seen: ActiveViewer,
    rt: RuntimeDep,
    session: SessionDep,
    login: Annotated[str, Form()] = "",
    display_name: Annotated[str, Form()] = "",
    amount_limit: Annotated[str, Form()] = "",
) -> Response:
    """A new user: the page shows its one-time password and TOTP secret, once."""
    _administrator(seen)
    body = build(
        StaffUserIn,
        login=login.strip().lower(),
        display_name=display_name.strip(),
        permissions=_permissions(await _form_list(request, "permissions")),
        amount_limit=_limit(amount_limit, field="amount_limit"),
    )
    shown = staff.create(
        rt=rt, session=session, member=seen.member.address, body=body, by=seen.member
    )
    return _credentials_page(request, shown, created=True)


def _credentials_page(request: Request, shown: StaffCredentials, *, created: bool) -> Response:
    return render(
        request,
        "staff/credentials.html",
        {"shown": shown, "created": created},
        status_code=201 if created else 200,
    )


@router.post("/staff/users/{login}")
async def update_user(
    request: Request,
    login: str,
    seen: ActiveViewer,
    session: SessionDep,
    display_name: Annotated[str, Form()] = "",
    amount_limit: Annotated[str, Form()] = "",
    status: Annotated[str, Form()] = "",
) -> Response:
    """The user's name, permissions, amount limit (empty: none) and status, as the form has
    them."""
    _administrator(seen)
    body = build(
        StaffUserPatch,
        display_name=display_name.strip() or None,
        permissions=_permissions(await _form_list(request, "permissions")),
        amount_limit=_limit(amount_limit, field="amount_limit"),
        status=status or None,
    )
    user = staff.update_user(session=session, me=seen.member, login=login, body=body)
    return redirect(STAFF, flash=tr(request, "%(login)s is changed.", login=user.login))


@router.post("/staff/users/{login}/reset")
def reset_user(
    request: Request,
    login: str,
    seen: ActiveViewer,
    rt: RuntimeDep,
    session: SessionDep,
    password: Annotated[bool, Form()] = False,
    totp: Annotated[bool, Form()] = False,
) -> Response:
    """A new one-time password and/or second factor (lifting a lock-out), shown once."""
    _administrator(seen)
    shown = staff.reset(
        rt=rt, session=session, me=seen.member, login=login, password=password, totp=totp
    )
    return _credentials_page(request, shown, created=False)


# -- approval policies ---------------------------------------------------------------------------


def _above(value: str) -> int:
    """A threshold typed in yuan; empty or 0: every amount."""
    if _ZERO.fullmatch(value.strip().replace(",", "").lstrip("¥￥")):
        return 0
    return yuan_to_fen(value, field="above_amount")


@router.get("/staff/policies")
def policies_page(request: Request, seen: ActiveViewer, session: SessionDep) -> Response:
    return render(
        request,
        "staff/policies.html",
        {
            "policies": policies.list_policies(session=session, me=seen.member),
            "action_labels": ACTION_LABELS,
            "permission_labels": PERMISSION_LABELS,
            "may_change": may_administer(seen),
            "max_approvers": MAX_APPROVERS,
        },
    )


@router.post("/staff/policies/{action}")
def set_policy(
    request: Request,
    action: str,
    seen: ActiveViewer,
    session: SessionDep,
    approvers: Annotated[str, Form()] = "0",
    above_amount: Annotated[str, Form()] = "",
    approver_permission: Annotated[str, Form()] = "",
) -> Response:
    _administrator(seen)
    if action not in APPROVABLE:
        raise InvalidInput(
            f"{action!r} cannot be put under an approval policy", code="NotApprovable"
        )
    body = build(
        PolicyIn,
        approvers=approvers,
        above_amount=_above(above_amount),
        approver_permission=approver_permission or None,
    )
    policies.set_policy(session=session, me=seen.member, action=action, body=body)
    return redirect(
        POLICIES,
        flash=tr(
            request,
            "The policy for “%(action)s” is changed.",
            action=tr(request, ACTION_LABELS.get(action, action)),
        ),
    )
