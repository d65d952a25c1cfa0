"""/v1/auth: challenge login, activation, API keys, who am I."""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from backend.api.deps import (
    CurrentMember,
    LoggedIn,
    MirrorDep,
    RuntimeDep,
    SessionDep,
    client_of,
)
from backend.api.errors import ERROR_RESPONSES
from backend.errors import Forbidden, Unauthenticated
from backend.models import ApiKeyPublic
from backend.schemas import (
    Activated,
    ActivateIn,
    ApiKeyCreated,
    ApiKeyIn,
    ChallengeIn,
    ChallengeOut,
    LoginIn,
    MePublic,
    TokenOut,
)
from backend.services import activation, auth
from backend.services.views import member_row, role_names
from chain.enums import MemberStatus

router = APIRouter(prefix="/v1", tags=["auth"], responses=ERROR_RESPONSES)


@router.post("/auth/challenge", response_model=ChallengeOut)
def challenge(
    body: ChallengeIn, request: Request, rt: RuntimeDep, session: SessionDep
) -> ChallengeOut:
    """A single-use, short-lived Sign-In with Ethereum message for `address` to sign
    (EIP-191 personal_sign); rate-limited per client address and per member address (429)."""
    client = client_of(request)
    rt.limiter.hit(rt.limiter.auth_per_client, "auth", client, code="RateLimited", what="logins")
    rt.limiter.hit(
        rt.limiter.auth_per_address,
        "challenge",
        body.address.lower(),
        code="RateLimited",
        what="challenges for this address",
    )
    return auth.create_challenge(rt=rt, session=session, address=body.address)


@router.post("/auth/login", response_model=TokenOut)
def login(
    body: LoginIn, request: Request, rt: RuntimeDep, session: SessionDep, mirror: MirrorDep
) -> TokenOut:
    """Exchange a signed challenge for a bearer token; only members may log in. A suspended
    member's token opens only what it may still do (see what it owes and repay it). Too many
    failed logins from one client address lock it out for a while (429 LoginLockedOut), and
    so do too many for one member address from any client (429 MemberLoginLockedOut)."""
    client = client_of(request)
    member = auth.challenged_address(session=session, challenge_id=body.challenge_id)
    rt.limiter.check_lockout(client, member)
    rt.limiter.hit(rt.limiter.auth_per_client, "auth", client, code="RateLimited", what="logins")
    try:
        address, token = auth.login(
            rt=rt,
            session=session,
            challenge_id=body.challenge_id,
            signature=body.signature,
            source_ip=client,
        )
    except Unauthenticated as exc:
        rt.limiter.login_failed(client, member)
        auth.login_failed(session, member=member, source_ip=client, exc=exc)
        raise
    row = member_row(mirror, rt, address)
    if row is None or row.status == MemberStatus.NONE:
        raise Forbidden("not a member of the ledger", code="NotMember")
    return token


@router.post("/auth/activate", response_model=Activated, status_code=status.HTTP_201_CREATED)
def activate(body: ActivateIn, request: Request, rt: RuntimeDep, session: SessionDep) -> Activated:
    """A custodial member exchanges the one-time activation code the operator gave it for its
    own API key, shown once (no credential needed). A used, replaced, expired or unknown code is
    refused (401 ActivationCodeUsed / Replaced / Expired / Unknown); failures count towards the
    client address's lock-out like failed logins."""
    client = client_of(request)
    rt.limiter.check_lockout(client)
    rt.limiter.hit(rt.limiter.auth_per_client, "auth", client, code="RateLimited", what="logins")
    try:
        return activation.activate(session=session, code=body.code)
    except Unauthenticated:
        rt.limiter.login_failed(client)
        raise


@router.get("/me", response_model=MePublic)
def me(member: CurrentMember, rt: RuntimeDep) -> MePublic:
    return MePublic(
        address=member.address,
        roles=role_names(int(member.roles)),
        credit_limit=member.credit_limit,
        credit_used=member.credit_used,
        custodial=rt.has_key(member.address),
    )


@router.post("/auth/api-keys", response_model=ApiKeyCreated, status_code=status.HTTP_201_CREATED)
def create_api_key(body: ApiKeyIn, member: LoggedIn, session: SessionDep) -> ApiKeyCreated:
    """A key for a machine client of this member, shown once; needs a login (an API key is
    refused: 403 LoginRequired). With `expires_at` the key stops working then."""
    return auth.create_api_key(
        session=session,
        address=member.address,
        name=body.name,
        expires_at=body.expires_at,
        source_ip=member.source_ip,
        user=member.user,
    )


@router.get("/auth/api-keys", response_model=list[ApiKeyPublic])
def list_api_keys(member: LoggedIn, session: SessionDep) -> list[ApiKeyPublic]:
    """This member's keys with their expiry and last use (to the minute); needs a login."""
    return [
        ApiKeyPublic.model_validate(k, from_attributes=True)
        for k in auth.list_api_keys(session=session, me=member)
    ]


@router.delete("/auth/api-keys/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_api_key(key_id: str, member: LoggedIn, session: SessionDep) -> None:
    """Revoke one of this member's keys; needs a login."""
    auth.revoke_api_key(session=session, me=member, key_id=key_id)


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(member: LoggedIn, session: SessionDep) -> None:
    """End this login: its bearer token is refused from now on (401 TokenRevoked)."""
    auth.logout(session=session, me=member)
