"""The API's dependencies: sessions, the runtime, the authenticated member, role checks, and
the context objects the services take (`backend.services.context`)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from eth_utils.address import to_checksum_address
from fastapi import Depends, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import bindparam, update
from sqlalchemy import select as sa_select
from sqlmodel import Session

from backend.errors import Forbidden, Unauthenticated
from backend.models import ApiKey, RevokedToken, StaffStatus, StaffUser, as_utc
from backend.permissions import Permission, permission_for
from backend.runtime import Runtime
from backend.security import secret_matches, split_api_key
from backend.services.context import (
    Idem,
    IdempotentReplay,
    Principal,
    StaffRef,
    WriteContext,
    by_key,
    require_same_request,
)
from chain.enums import MemberStatus, Role
from indexer.models import Member

# Dependencies that do no I/O are `async def`: FastAPI runs a sync one on the thread pool, a
# hop per dependency per request. The ones every request runs take the runtime from `Request`,
# not from `RuntimeDep`: FastAPI solves a dependency's own dependencies wherever it occurs,
# cached or not, so each one these share is solved again under each of them.


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def client_of(request: Request) -> str:
    """The client address the limits count: the peer, or behind a trusted proxy
    (SCF_TRUSTED_PROXIES) the address its X-Forwarded-For names."""
    peer = request.client.host if request.client is not None else None
    return runtime_of(request).limiter.client(peer, request.headers.getlist("x-forwarded-for"))


async def get_runtime_dep(request: Request) -> Runtime:
    return runtime_of(request)


RuntimeDep = Annotated[Runtime, Depends(get_runtime_dep)]


async def close_session(session: Session) -> None:
    """Close `session`; on the thread pool only if a transaction is open (closing sends its
    rollback). A write that committed and read nothing after holds no connection."""
    if session.in_transaction():
        await run_in_threadpool(session.close)
    else:
        session.close()


async def get_session(request: Request) -> AsyncIterator[Session]:
    # opening a session does no I/O
    session = Session(runtime_of(request).engine, expire_on_commit=False)
    try:
        yield session
    finally:
        await close_session(session)


SessionDep = Annotated[Session, Depends(get_session)]


async def get_mirror(request: Request, session: SessionDep) -> AsyncIterator[Session]:
    """The mirror's session; where the mirror shares the backend's database, the request's own
    session (one connection a request instead of two)."""
    rt = runtime_of(request)
    if rt.mirror is rt.engine:
        yield session
        return
    mirror = Session(rt.mirror)
    try:
        yield mirror
    finally:
        await close_session(mirror)


MirrorDep = Annotated[Session, Depends(get_mirror)]

KEY_USE_GRAIN = timedelta(minutes=1)

_bearer = HTTPBearer(auto_error=False, description="A login token or an API key (scf_…)")


# The statements every request runs are built once: building one and deriving its cache key
# costs about as much as running it.

_KEYS = ApiKey.__table__  # type: ignore[attr-defined]
_MEMBERS = Member.__table__  # type: ignore[attr-defined]
_REVOKED = RevokedToken.__table__  # type: ignore[attr-defined]
_API_KEY = sa_select(
    _KEYS.c.address,
    _KEYS.c.secret_hash,
    _KEYS.c.revoked_at,
    _KEYS.c.last_used_at,
    _KEYS.c.expires_at,
    _KEYS.c.user_id,
).where(_KEYS.c.id == bindparam("id"))
_USERS = StaffUser.__table__  # type: ignore[attr-defined]
_STAFF = sa_select(
    _USERS.c.id,
    _USERS.c.member,
    _USERS.c.login,
    _USERS.c.display_name,
    _USERS.c.permissions,
    _USERS.c.amount_limit,
    _USERS.c.status,
    _USERS.c.must_change_password,
).where(_USERS.c.id == bindparam("id"))
#: what a staff user told to change its password may still do
PASSWORD_CHANGE_PATHS = frozenset(
    {
        "/v1/staff/me/password",
        "/v1/staff/me",
        "/v1/auth/logout",
        "/console/password",  # the console's own password page and logout
        "/console/logout",
    }
)
_DENIED = sa_select(_REVOKED.c.jti).where(_REVOKED.c.jti == bindparam("jti"))
_PRINCIPAL = sa_select(
    _MEMBERS.c.address,
    _MEMBERS.c.roles,
    _MEMBERS.c.status,
    _MEMBERS.c.entity_id,
    _MEMBERS.c.credit_limit,
    _MEMBERS.c.credit_used,
).where(_MEMBERS.c.chain_id == bindparam("chain_id"), _MEMBERS.c.address == bindparam("address"))


def authenticate(
    request: Request,
    session: SessionDep,
    mirror: MirrorDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    x_api_key: Annotated[str | None, Header(description="API key (alternative)")] = None,
) -> Principal:
    token = credentials.credentials if credentials is not None else x_api_key
    if not token:
        raise Unauthenticated("log in (bearer token) or send an API key")
    return principal_for(request, session, mirror, token)


def principal_for(request: Request, session: Session, mirror: Session, token: str) -> Principal:
    """The member a credential (an API key or a bearer token) stands for: the API takes it
    from its headers, the console from its session cookie."""
    # Core statements, not the ORM: every request runs these two
    rt = runtime_of(request)
    parts = split_api_key(token)
    if parts is not None:
        key_id, secret = parts
        key = session.connection().execute(_API_KEY, {"id": key_id}).first()
        if key is None or key.revoked_at is not None or not secret_matches(secret, key.secret_hash):
            raise Unauthenticated("unknown or revoked API key", code="InvalidApiKey")
        now = datetime.now(UTC)
        if key.expires_at is not None and as_utc(key.expires_at) <= now:
            raise Unauthenticated(
                f"API key {key_id} expired on "
                f"{as_utc(key.expires_at).isoformat(timespec='seconds')}",
                code="ApiKeyExpired",
                details={"key_id": key_id},
            )
        last = key.last_used_at
        if (
            last is None
            or (last if last.tzinfo else last.replace(tzinfo=UTC)) < now - KEY_USE_GRAIN
        ):
            # recorded to the minute: a write (and a commit) per request would double a read's cost
            session.connection().execute(
                update(_KEYS).where(_KEYS.c.id == key_id).values(last_used_at=now)
            )
            session.commit()
        address, claims, user_id = key.address, None, key.user_id
    else:
        claims = rt.tokens.verify(token)
        if session.connection().execute(_DENIED, {"jti": claims.jti}).first() is not None:
            raise Unauthenticated("this token was logged out: log in again", code="TokenRevoked")
        address, user_id = claims.address, claims.user_id
    user = None if user_id is None else _staff(request, session, user_id, address)
    row = (
        mirror.connection()
        .execute(_PRINCIPAL, {"chain_id": rt.chain_id, "address": address.lower()})
        .first()
    )
    if row is None or row.status == MemberStatus.NONE:
        raise Forbidden("not a member of the ledger", code="NotMember")
    request.state.member = to_checksum_address(row.address)  # for the access log
    client = client_of(request)
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        limiter = rt.limiter
        limiter.hit(limiter.writes_per_client, "write", client, code="RateLimited", what="writes")
        limiter.hit(
            limiter.writes_per_member, "write", row.address, code="RateLimited", what="writes"
        )
    return Principal(
        address=row.address,
        roles=Role(row.roles),
        entity_id=row.entity_id,
        credit_limit=int(row.credit_limit),
        credit_used=int(row.credit_used),
        token=claims,
        suspended=row.status != MemberStatus.ACTIVE,
        source_ip=client,
        user=user,
    )


def _staff(request: Request, session: Session, user_id: str, address: str) -> StaffRef:
    """The staff user a token or key carries: active, of that member; one told to change its
    password does only that; reading needs `view`."""
    row = session.connection().execute(_STAFF, {"id": user_id}).first()
    if row is None or row.member != address.lower():
        raise Unauthenticated("unknown staff user", code="InvalidToken")
    if row.status != StaffStatus.ACTIVE:
        raise Forbidden(f"{row.login} is disabled: ask an administrator", code="UserDisabled")
    if row.must_change_password and request.url.path not in PASSWORD_CHANGE_PATHS:
        raise Forbidden(
            f"{row.login} must change the one-time password first (POST /v1/staff/me/password)",
            code="PasswordChangeRequired",
        )
    user = StaffRef(
        id=row.id,
        login=row.login,
        display_name=row.display_name,
        permissions=frozenset(row.permissions),
        amount_limit=row.amount_limit,
        must_change_password=row.must_change_password,
    )
    request.state.user = row.login  # for the access log
    reading = request.method in ("GET", "HEAD") and request.url.path not in PASSWORD_CHANGE_PATHS
    if reading and Permission.VIEW not in user.permissions:
        raise Forbidden(
            f"{user.display_name} ({user.login}) does not have the permission view",
            code="MissingPermission",
            details={"permission": "view", "user": user.login},
        )
    return user


Authenticated = Annotated[Principal, Depends(authenticate)]


async def get_current_member(member: Authenticated) -> Principal:
    """An active member: a suspended one takes no new position and sees nothing, except what
    the routes that take `Authenticated` let it do (repay what it owes, follow those writes)."""
    return check_active(member)


CurrentMember = Annotated[Principal, Depends(get_current_member)]


async def require_login(member: CurrentMember) -> Principal:
    """A member logged in by a signed challenge (a bearer token), not by an API key: a leaked
    key must not be able to mint or revoke keys, so key management needs a login."""
    if member.via_api_key:
        raise Forbidden(
            "this needs a login (a bearer token from /v1/auth/login), not an API key",
            code="LoginRequired",
        )
    return member


LoggedIn = Annotated[Principal, Depends(require_login)]


def check_roles(member: Principal, roles: tuple[Role, ...]) -> Principal:
    """`member`, if it holds any of `roles` (403 MissingRole naming them otherwise)."""
    wanted = Role(0)
    for r in roles:
        wanted |= r
    if not member.roles & wanted:
        names = [r.name or str(int(r)) for r in roles]
        raise Forbidden(
            f"needs the role {' or '.join(names)}", code="MissingRole", details={"roles": names}
        )
    return member


def check_active(member: Principal) -> Principal:
    """`member`, if not suspended (403 MemberSuspended)."""
    if member.suspended:
        raise Forbidden("this member is suspended", code="MemberSuspended")
    return member


def require_role(
    *roles: Role, even_suspended: bool = False
) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that lets through active members holding any of `roles` (suspended ones
    too with `even_suspended`)."""

    def _check(member: Principal) -> Principal:
        return check_roles(member, roles)

    if even_suspended:

        async def check_any(member: Authenticated) -> Principal:
            return _check(member)

        return check_any

    async def check(member: CurrentMember) -> Principal:
        return _check(member)

    return check


def may_do(action: str) -> Any:
    """A route dependency: a staff user without the permission `action` needs
    (`backend.permissions`) is refused before anything else is looked at; the amount limit is
    checked where the amount is known (`backend.services.tx.submit`)."""
    permission = permission_for(action)

    async def check(member: Authenticated) -> None:
        member.require(permission)

    return Depends(check)


Operator = Annotated[Principal, Depends(require_role(Role.OPERATOR))]
Supplier = Annotated[Principal, Depends(require_role(Role.SUPPLIER))]
Holder = Annotated[Principal, Depends(require_role(Role.SUPPLIER, Role.FINANCIER))]
CoreEnterprise = Annotated[Principal, Depends(require_role(Role.CORE_ENTERPRISE))]
#: a core enterprise active or suspended: money it owes must always reach the holders, so it
#: may see what it owes and repay it (the ledger checks only that it is the debtor)
Debtor = Annotated[Principal, Depends(require_role(Role.CORE_ENTERPRISE, even_suspended=True))]
#: A party that registers or issues invoices, and so uploads the files behind them.
InvoiceParty = Annotated[Principal, Depends(require_role(Role.SUPPLIER, Role.CORE_ENTERPRISE))]
Financier = Annotated[Principal, Depends(require_role(Role.FINANCIER))]
Regulator = Annotated[Principal, Depends(require_role(Role.REGULATOR))]
Auditor = Annotated[Principal, Depends(require_role(Role.AUDITOR, Role.REGULATOR))]

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=128,
        description="The same key never sends a second transaction.",
    ),
]


async def get_idempotency(request: Request, key: IdempotencyKeyHeader = None) -> Idem | None:
    if key is None:
        return None
    body = await request.body()
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.url.path.encode(), body):
        digest.update(len(part).to_bytes(8, "big") + part)
    return Idem(key=key, request_hash=digest.hexdigest())


IdempotencyDep = Annotated[Idem | None, Depends(get_idempotency)]


def replay_first(idem: IdempotencyDep, member: Authenticated, session: SessionDep) -> Idem | None:
    """For writes answered with their transaction request: a repeated key is replayed here
    (the route's own dependency decides whether the member, active or not, may write)."""
    if idem is None:
        return None
    existing = by_key(session, member.address, idem.key)
    if existing is None:
        return idem
    require_same_request(existing, idem)
    raise IdempotentReplay(existing.id)


TxIdempotencyDep = Annotated[Idem | None, Depends(replay_first)]


async def wait_param(
    request: Request,
    wait: Annotated[
        bool, Query(description="Return only when mined and visible in the mirror.")
    ] = False,
) -> AsyncIterator[bool]:
    """With `wait`, hold one of the process's waiting slots for the request (429 TooManyWaiting
    when none is free, before anything is done)."""
    if not wait:
        yield False
        return
    limiter = runtime_of(request).limiter
    limiter.wait_slot()
    try:
        yield True
    finally:
        limiter.release_wait_slot()


WaitDep = Annotated[bool, Depends(wait_param)]


async def write_context(
    request: Request, wait: WaitDep, session: SessionDep, mirror: MirrorDep, idem: TxIdempotencyDep
) -> WriteContext:
    """For writes answered with their transaction request: a repeated key is already replayed."""
    rt = runtime_of(request)
    return WriteContext(rt=rt, session=session, mirror=mirror, idem=idem, wait=wait)


async def service_replay_write_context(
    request: Request, session: SessionDep, mirror: MirrorDep, idem: IdempotencyDep, wait: WaitDep
) -> WriteContext:
    """For writes whose service replays a repeated key itself (their answer is not just the
    transaction request)."""
    rt = runtime_of(request)
    return WriteContext(rt=rt, session=session, mirror=mirror, idem=idem, wait=wait)


WriteDep = Annotated[WriteContext, Depends(write_context)]
ServiceReplayWriteDep = Annotated[WriteContext, Depends(service_replay_write_context)]
