"""Activation codes: what the operator hands a custodial member instead of its credential, and
the member's one exchange of it for its own API key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from backend.errors import Unauthenticated
from backend.models import ActivationCode, ApiKey, as_utc
from backend.schemas import Activated, ActivationOut
from backend.security import new_activation_code, secret_matches, split_activation_code
from backend.services import auth

#: the name of the API key an activation gives
KEY_NAME = "activation"


def issue(
    *, session: Session, address: str, issued_by: str, hours: int, commit: bool = True
) -> ActivationOut:
    """A new code for `address`, valid for `hours`; the member's earlier unused codes stop
    working (a re-issue replaces them)."""
    now = datetime.now(UTC)
    session.execute(
        update(ActivationCode)
        .where(
            col(ActivationCode.address) == address.lower(),
            col(ActivationCode.used_at).is_(None),
            col(ActivationCode.replaced_at).is_(None),
        )
        .values(replaced_at=now)
    )
    code_id, code, secret_hash = new_activation_code()
    expires = now + timedelta(hours=hours)
    session.add(
        ActivationCode(
            id=code_id,
            address=address.lower(),
            secret_hash=secret_hash,
            issued_by=issued_by.lower(),
            created_at=now,
            expires_at=expires,
        )
    )
    if commit:
        session.commit()
    return ActivationOut(address=address, code=code, expires_at=expires)


def activate(*, session: Session, code: str) -> Activated:
    """Exchange `code`, once, for a new API key of its member. The keys earlier activations
    gave the member are revoked: a member that lost its key, or whose code somebody else used,
    gets its access back (and the other's key stops) by activating a re-issued code."""
    row = _code_row(session, code)
    now = datetime.now(UTC)
    if row.used_at is not None:
        raise Unauthenticated(
            "this activation code was already used: ask the operator for a new one",
            code="ActivationCodeUsed",
            details={"code_id": row.id},
        )
    if row.replaced_at is not None:
        raise Unauthenticated(
            "a newer activation code was issued for this member: use that one",
            code="ActivationCodeReplaced",
            details={"code_id": row.id},
        )
    expires = as_utc(row.expires_at)
    if expires <= now:
        raise Unauthenticated(
            f"this activation code expired on {expires.isoformat(timespec='seconds')}: ask the "
            "operator for a new one",
            code="ActivationCodeExpired",
            details={"code_id": row.id},
        )
    taken = session.execute(
        update(ActivationCode)
        .where(col(ActivationCode.id) == row.id, col(ActivationCode.used_at).is_(None))
        .values(used_at=now)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()  # a concurrent exchange of the same code won
        raise Unauthenticated(
            "this activation code was already used: ask the operator for a new one",
            code="ActivationCodeUsed",
            details={"code_id": row.id},
        )
    earlier = select(ActivationCode.api_key_id).where(
        col(ActivationCode.address) == row.address, col(ActivationCode.api_key_id).is_not(None)
    )
    session.execute(
        update(ApiKey)
        .where(col(ApiKey.id).in_(earlier), col(ApiKey.revoked_at).is_(None))
        .values(revoked_at=now)
    )
    key_row, created = auth.new_key(address=row.address, name=KEY_NAME, expires_at=None)
    session.add(key_row)
    session.execute(
        update(ActivationCode).where(col(ActivationCode.id) == row.id).values(api_key_id=key_row.id)
    )
    session.commit()
    return Activated(address=row.address, **created.model_dump())


def _code_row(session: Session, code: str) -> ActivationCode:
    parts = split_activation_code(code)
    row = session.get(ActivationCode, parts[0]) if parts is not None else None
    if parts is None or row is None or not secret_matches(parts[1], row.secret_hash):
        raise Unauthenticated(
            "unknown activation code (codes look like scfact_…)", code="ActivationCodeUnknown"
        )
    return row
