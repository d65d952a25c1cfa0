"""/v1/staff: a member's staff users and approval policies; /v1/auth/staff-login for people."""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from backend.api.deps import (
    CurrentMember,
    MirrorDep,
    Operator,
    RuntimeDep,
    SessionDep,
    client_of,
)
from backend.api.errors import ERROR_RESPONSES
from backend.api.params import AddressPath
from backend.errors import Forbidden, NotFound, Unauthenticated
from backend.models import StaffUser
from backend.schemas import (
    PasswordChangeIn,
    PolicyIn,
    PolicyOut,
    StaffCredentials,
    StaffLoginIn,
    StaffResetIn,
    StaffTokenOut,
    StaffUserIn,
    StaffUserOut,
    StaffUserPatch,
)
from backend.services import policies, staff
from backend.services.views import member_row
from chain.enums import MemberStatus

router = APIRouter(prefix="/v1", tags=["staff"], responses=ERROR_RESPONSES)


@router.post("/auth/staff-login", response_model=StaffTokenOut)
def staff_login(
    body: StaffLoginIn, request: Request, rt: RuntimeDep, session: SessionDep, mirror: MirrorDep
) -> StaffTokenOut:
    """A person logs in: login name, password and the authenticator's current code → a bearer
    token for the member that carries the user (its permissions bound what it does). Wrong
    credentials are one answer (401 BadCredentials) whichever part was wrong; a code is good
    once (401 TotpReplayed); repeated failures lock the user out (429 UserLockedOut) and the
    client address too (429 LoginLockedOut). A one-time password must be changed first
    (`password_change_required`)."""
    client = client_of(request)
    rt.limiter.check_lockout(client)
    rt.limiter.hit(rt.limiter.auth_per_client, "auth", client, code="RateLimited", what="logins")
    try:
        out = staff.login(rt=rt, session=session, body=body, source_ip=client)
    except Unauthenticated:
        rt.limiter.login_failed(client)
        raise
    row = member_row(mirror, rt, out.user.member)
    if row is None or row.status == MemberStatus.NONE:
        raise Forbidden("this user's member is not on the ledger", code="NotMember")
    return out


@router.get("/staff/me", response_model=StaffUserOut)
def me(member: CurrentMember, session: SessionDep) -> StaffUserOut:
    """The staff user logged in (404 for the member's own credentials)."""
    if member.user is None:
        raise NotFound("this credential is the member's own, not a staff user's")
    user = session.get(StaffUser, member.user.id)
    assert user is not None
    return staff.public(user)


@router.post("/staff/me/password", status_code=status.HTTP_204_NO_CONTENT)
def change_password(body: PasswordChangeIn, member: CurrentMember, session: SessionDep) -> None:
    """Change one's own password (the one-time one first of all)."""
    staff.change_password(
        session=session, me=member, current=body.current_password, new=body.new_password
    )


@router.get("/staff/users", response_model=list[StaffUserOut])
def list_users(member: CurrentMember, session: SessionDep) -> list[StaffUserOut]:
    """This member's staff users."""
    return staff.list_users(session=session, me=member)


@router.post("/staff/users", response_model=StaffCredentials, status_code=status.HTTP_201_CREATED)
def create_user(
    body: StaffUserIn, member: CurrentMember, rt: RuntimeDep, session: SessionDep
) -> StaffCredentials:
    """A new staff user of this member (needs users.admin): its one-time password and TOTP
    secret are in the answer, once (409 LoginTaken for a name in use anywhere)."""
    return staff.create(rt=rt, session=session, member=member.address, body=body, by=member)


@router.patch("/staff/users/{login}", response_model=StaffUserOut)
def update_user(
    login: str, body: StaffUserPatch, member: CurrentMember, session: SessionDep
) -> StaffUserOut:
    """Change a user's name, permissions, amount limit or status (needs users.admin; 409
    LastAdministrator when none would be left)."""
    return staff.update_user(session=session, me=member, login=login, body=body)


@router.post("/staff/users/{login}/reset", response_model=StaffCredentials)
def reset_user(
    login: str, body: StaffResetIn, member: CurrentMember, rt: RuntimeDep, session: SessionDep
) -> StaffCredentials:
    """A new one-time password and/or second factor for a user of this member, shown once; it
    lifts a lock-out (needs users.admin)."""
    return staff.reset(
        rt=rt, session=session, me=member, login=login, password=body.password, totp=body.totp
    )


@router.post(
    "/operator/members/{address}/staff",
    response_model=StaffCredentials,
    status_code=status.HTTP_201_CREATED,
    tags=["operator"],
)
def first_user(
    address: AddressPath,
    body: StaffUserIn,
    me: Operator,
    rt: RuntimeDep,
    session: SessionDep,
    mirror: MirrorDep,
) -> StaffCredentials:
    """The operator onboards a member's first staff user, its administrator (it must hold
    users.admin; 409 StaffExists once the member has users). The member then starts with the
    platform's default approval policies."""
    row = member_row(mirror, rt, address)
    if row is None or row.status == MemberStatus.NONE:
        raise NotFound(f"no member {address}")
    return staff.create(rt=rt, session=session, member=address, body=body, by=me, first=True)


@router.get("/staff/policies", response_model=list[PolicyOut])
def list_policies(member: CurrentMember, session: SessionDep) -> list[PolicyOut]:
    """This member's approval policy for every action one may cover."""
    return policies.list_policies(session=session, me=member)


@router.put("/staff/policies/{action}", response_model=PolicyOut)
def set_policy(
    action: str, body: PolicyIn, member: CurrentMember, session: SessionDep
) -> PolicyOut:
    """Set how many approvers besides the maker `action` needs (0 to 2), above which amount, with
    which permission (needs users.admin)."""
    return policies.set_policy(session=session, me=member, action=action, body=body)
