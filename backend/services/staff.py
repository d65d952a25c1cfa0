"""A member's staff users: made and managed by the member's administrators (the first one by the
operator), logging in with a password (Argon2id) and a TOTP code, locked out for a while after
repeated failures, reset by an administrator of the same member."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from backend.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    TooManyRequests,
    Unauthenticated,
)
from backend.models import StaffStatus, StaffUser, as_utc, utcnow
from backend.permissions import Permission
from backend.runtime import Runtime
from backend.schemas import (
    StaffCredentials,
    StaffLoginIn,
    StaffTokenOut,
    StaffUserIn,
    StaffUserOut,
    StaffUserPatch,
)
from backend.security import (
    MIN_PASSWORD_LENGTH,
    dummy_password_hash,
    hash_password,
    new_password,
    new_totp_secret,
    password_matches,
    totp_step,
    totp_uri,
)
from backend.services import action_log, policies
from backend.services.context import Principal

BAD_CREDENTIALS = "wrong login name, password or code"


def public(user: StaffUser) -> StaffUserOut:
    return StaffUserOut.model_validate(user, from_attributes=True)


def has_staff(session: Session, member: str) -> bool:
    """Whether `member` is an organisation of people (its approval policies then apply)."""
    found = session.exec(select(StaffUser.id).where(StaffUser.member == member.lower()).limit(1))
    return found.first() is not None


def _of_member(session: Session, member: str, login: str) -> StaffUser:
    user = session.exec(select(StaffUser).where(StaffUser.login == login.lower())).first()
    if user is None or user.member != member:
        raise NotFound(f"no staff user {login!r} at this member")
    return user


def _administrator(me: Principal) -> None:
    me.require(Permission.ADMINISTER)


def _credentials(rt: Runtime, user: StaffUser, *, password: bool, totp: bool) -> StaffCredentials:
    """Give `user` a new one-time password and/or TOTP secret; the answer shows them once."""
    fresh_password = new_password() if password else None
    fresh_secret = new_totp_secret() if totp else None
    if fresh_password is not None:
        user.password_hash = hash_password(fresh_password)
        user.must_change_password = True
    if fresh_secret is not None:
        user.totp_nonce, user.totp_ciphertext = rt.vault.seal_secret(
            label=f"totp:{user.id}", secret=fresh_secret.encode()
        )
        user.totp_last_step = None
    user.failed_logins, user.locked_until, user.updated_at = 0, None, utcnow()
    return StaffCredentials(
        **public(user).model_dump(),
        password=fresh_password,
        totp_secret=fresh_secret,
        totp_uri=totp_uri(fresh_secret, login=user.login) if fresh_secret else None,
    )


def totp_secret(rt: Runtime, user: StaffUser) -> str:
    return rt.vault.open_secret(
        label=f"totp:{user.id}", nonce=user.totp_nonce, ciphertext=user.totp_ciphertext
    ).decode()


def create(
    *,
    rt: Runtime,
    session: Session,
    member: str,
    body: StaffUserIn,
    by: Principal,
    first: bool = False,
) -> StaffCredentials:
    """A new staff user of `member`, with a one-time password and a TOTP secret shown once.
    `first`: the operator onboarding the member's first administrator (refused once it has
    users: from then on the member's own administrators manage them)."""
    member = member.lower()
    if first:
        by.require(Permission.OPERATE)
        if has_staff(session, member):
            raise Conflict(
                "this member already has staff users: its own administrators add more",
                code="StaffExists",
            )
        if Permission.ADMINISTER not in body.permissions:
            raise InvalidInput(
                "the first staff user administers the member: give it users.admin",
                code="FirstUserNotAdministrator",
            )
    else:
        _administrator(by)
    user = StaffUser(
        id="usr_" + secrets.token_hex(8),
        member=member,
        login=body.login.lower(),
        display_name=body.display_name,
        permissions=sorted({str(p) for p in body.permissions}),
        amount_limit=body.amount_limit,
        password_hash="",
        totp_nonce=b"",
        totp_ciphertext=b"",
        created_by=None if first else (by.login or by.address),
    )
    shown = _credentials(rt, user, password=True, totp=True)
    session.add(user)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Conflict(f"the login name {user.login!r} is taken", code="LoginTaken") from None
    if first:
        policies.seed_defaults(session, member)
    action_log.record(
        session,
        member=by.address if not first else member,
        user=by.login,
        action="user.create",
        result=action_log.OK,
        source_ip=by.source_ip,
        target=user.login,
        details={
            "member": member,
            "permissions": ",".join(user.permissions),
            "amount_limit": user.amount_limit,
            "by_operator": first,
        },
    )
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict(f"the login name {user.login!r} is taken", code="LoginTaken") from None
    return shown


def list_users(*, session: Session, me: Principal) -> list[StaffUserOut]:
    rows = session.exec(
        select(StaffUser).where(StaffUser.member == me.address).order_by(col(StaffUser.login))
    ).all()
    return [public(u) for u in rows]


def _administrators(session: Session, member: str) -> int:
    rows = session.exec(
        select(StaffUser.permissions).where(
            StaffUser.member == member, StaffUser.status == StaffStatus.ACTIVE
        )
    ).all()
    return sum(1 for p in rows if Permission.ADMINISTER in p)


def update_user(
    *, session: Session, me: Principal, login: str, body: StaffUserPatch
) -> StaffUserOut:
    _administrator(me)
    user = _of_member(session, me.address, login)
    changed = body.model_dump(exclude_unset=True)
    if "display_name" in changed and body.display_name is not None:
        user.display_name = body.display_name
    if "permissions" in changed and body.permissions is not None:
        user.permissions = sorted({str(p) for p in body.permissions})
    if "amount_limit" in changed:
        user.amount_limit = body.amount_limit
    if "status" in changed and body.status is not None:
        user.status = body.status
    session.add(user)
    session.flush()
    if _administrators(session, me.address) == 0:
        session.rollback()
        raise Conflict(
            "this would leave the member without an active administrator (users.admin)",
            code="LastAdministrator",
        )
    user.updated_at = utcnow()
    action_log.record(
        session,
        member=me.address,
        user=me.login,
        action="user.update",
        result=action_log.OK,
        source_ip=me.source_ip,
        target=user.login,
        details={
            k: ",".join(str(p) for p in v) if isinstance(v, list) else (str(v) if v else v)
            for k, v in changed.items()
        },
    )
    session.commit()
    return public(user)


def reset(
    *, rt: Runtime, session: Session, me: Principal, login: str, password: bool, totp: bool
) -> StaffCredentials:
    """An administrator gives a user a new one-time password and/or second factor (and lifts
    a lock-out)."""
    _administrator(me)
    if not (password or totp):
        raise InvalidInput("reset the password, the second factor or both", code="NothingToReset")
    user = _of_member(session, me.address, login)
    shown = _credentials(rt, user, password=password, totp=totp)
    session.add(user)
    action_log.record(
        session,
        member=me.address,
        user=me.login,
        action="user.reset",
        result=action_log.OK,
        source_ip=me.source_ip,
        target=user.login,
        details={"password": password, "totp": totp},
    )
    session.commit()
    return shown


def login(
    *, rt: Runtime, session: Session, body: StaffLoginIn, source_ip: str | None
) -> StaffTokenOut:
    """Password and TOTP code → a bearer token for the user's member that carries the user.
    Each failure counts; `staff_lockout_failures` in a row lock the user for
    `login_lockout_seconds`. A code is good once (a replay within its window is refused)."""
    now = datetime.now(UTC)
    name = body.login.lower()
    user = session.exec(select(StaffUser).where(StaffUser.login == name)).first()
    if user is None:
        password_matches(body.password, dummy_password_hash())  # as long as a known name takes
        _refused(session, member=None, login=name, source_ip=source_ip, code="BadCredentials")
        raise Unauthenticated(BAD_CREDENTIALS, code="BadCredentials")
    if user.locked_until is not None and as_utc(user.locked_until) > now:
        wait = int((as_utc(user.locked_until) - now).total_seconds()) + 1
        _refused(session, member=user.member, login=name, source_ip=source_ip, code="UserLockedOut")
        raise TooManyRequests(
            f"{user.login} is locked out after repeated failed logins: try again in "
            f"{wait // 60 + 1} minutes, or ask an administrator to reset it",
            code="UserLockedOut",
            retry_after=wait,
        )
    step = None
    if password_matches(body.password, user.password_hash):
        step = totp_step(totp_secret(rt, user), body.code, now=now)
    if step is None:
        _failed(rt, session, user, source_ip, "BadCredentials")
        raise Unauthenticated(BAD_CREDENTIALS, code="BadCredentials")
    # the step moves forward or the login fails: two logins never share a code
    fresh = session.execute(
        update(StaffUser)
        .where(col(StaffUser.id) == user.id)
        .where(or_(col(StaffUser.totp_last_step).is_(None), col(StaffUser.totp_last_step) < step))
        .values(totp_last_step=step, failed_logins=0, locked_until=None)
    )
    if fresh.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        _failed(rt, session, user, source_ip, "TotpReplayed")
        raise Unauthenticated(
            "this code was used already: wait for the next one", code="TotpReplayed"
        )
    if user.status != StaffStatus.ACTIVE:
        session.rollback()
        _refused(session, member=user.member, login=name, source_ip=source_ip, code="UserDisabled")
        raise Forbidden(f"{user.login} is disabled: ask an administrator", code="UserDisabled")
    action_log.record(
        session,
        member=user.member,
        user=user.login,
        action="auth.staff_login",
        result=action_log.OK,
        source_ip=source_ip,
    )
    session.commit()
    token, expires = rt.tokens.issue(user.member, user_id=user.id)
    session.refresh(user)
    return StaffTokenOut(
        access_token=token,
        expires_at=expires,
        user=public(user),
        password_change_required=user.must_change_password,
    )


def _failed(
    rt: Runtime, session: Session, user: StaffUser, source_ip: str | None, code: str
) -> None:
    """Count a failure; the one that reaches the limit locks the user out."""
    session.rollback()
    failures = session.execute(
        update(StaffUser)
        .where(col(StaffUser.id) == user.id)
        .values(failed_logins=StaffUser.failed_logins + 1)
        .returning(col(StaffUser.failed_logins))
    ).scalar_one()
    details: dict[str, str | int | None] = {"code": code, "failures": failures}
    if failures >= rt.settings.staff_lockout_failures:
        until = datetime.now(UTC) + timedelta(seconds=rt.settings.login_lockout_seconds)
        session.execute(
            update(StaffUser)
            .where(col(StaffUser.id) == user.id)
            .values(failed_logins=0, locked_until=until)
        )
        details["locked_until"] = until.isoformat(timespec="seconds")
    action_log.record(
        session,
        member=user.member,
        user=user.login,
        action="auth.staff_login",
        result=action_log.FAILED,
        source_ip=source_ip,
        details=details,
    )
    session.commit()


def _refused(
    session: Session, *, member: str | None, login: str, source_ip: str | None, code: str
) -> None:
    session.rollback()
    action_log.record(
        session,
        member=member,
        user=login,
        action="auth.staff_login",
        result=action_log.FAILED,
        source_ip=source_ip,
        details={"code": code},
    )
    session.commit()


def change_password(*, session: Session, me: Principal, current: str, new: str) -> None:
    if me.user is None:
        raise Forbidden("only a staff user has a password", code="NotStaffUser")
    user = session.get(StaffUser, me.user.id)
    assert user is not None
    if not password_matches(current, user.password_hash):
        raise Unauthenticated("the current password is wrong", code="BadCredentials")
    if len(new) < MIN_PASSWORD_LENGTH or new.lower() == user.login or new == current:
        raise InvalidInput(
            f"choose a new password of at least {MIN_PASSWORD_LENGTH} characters, "
            "not your login name nor the old one",
            code="WeakPassword",
        )
    user.password_hash = hash_password(new)
    user.must_change_password = False
    user.updated_at = utcnow()
    session.add(user)
    action_log.record(
        session,
        member=me.address,
        user=me.login,
        action="user.password",
        result=action_log.OK,
        source_ip=me.source_ip,
        target=user.login,
    )
    session.commit()
