"""Challenge login and API keys."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from eth_utils.address import to_checksum_address
from sqlalchemy import delete, update
from sqlmodel import Session, select

from backend.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from backend.models import ApiKey, LoginChallenge, RevokedToken
from backend.permissions import Permission
from backend.runtime import Runtime
from backend.schemas import ApiKeyCreated, ChallengeOut, TokenOut
from backend.security import (
    challenge_expiry,
    challenge_message,
    check_challenge,
    new_api_key,
    recover_signer,
)
from backend.services import action_log
from backend.services.context import Principal, StaffRef


def create_challenge(*, rt: Runtime, session: Session, address: str) -> ChallengeOut:
    expires = challenge_expiry(rt.settings)
    cid = secrets.token_hex(16)
    message = challenge_message(
        address=address,
        nonce=cid,
        expires_at=expires,
        public_url=rt.settings.public_url,
        chain_id=rt.chain_id,
    )
    session.add(
        LoginChallenge(id=cid, address=address.lower(), message=message, expires_at=expires)
    )
    session.commit()
    return ChallengeOut(challenge_id=cid, message=message, expires_at=expires)


def challenged_address(*, session: Session, challenge_id: str) -> str | None:
    """The member address a challenge was made for (EIP-55), None for an unknown challenge."""
    challenge = session.get(LoginChallenge, challenge_id)
    return None if challenge is None else to_checksum_address(challenge.address)


def login(
    *,
    rt: Runtime,
    session: Session,
    challenge_id: str,
    signature: str,
    source_ip: str | None = None,
) -> tuple[str, TokenOut]:
    """Verify a signed challenge (single use, unexpired); returns (address, token)."""
    challenge = session.get(LoginChallenge, challenge_id)
    if challenge is None:
        raise Unauthenticated("unknown challenge", code="InvalidChallenge")
    now = datetime.now(UTC)
    expires = challenge.expires_at
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    if expires < now:
        raise Unauthenticated("challenge expired", code="ChallengeExpired")
    check_challenge(
        challenge.message,
        nonce=challenge_id,
        public_url=rt.settings.public_url,
        chain_id=rt.chain_id,
        now=now,
    )
    signer = recover_signer(challenge.message, signature)
    if signer.lower() != challenge.address:
        raise Unauthenticated("signature is not by the challenged address", code="BadSignature")
    used = session.execute(
        update(LoginChallenge)
        .where(LoginChallenge.id == challenge_id)  # type: ignore[arg-type]
        .where(LoginChallenge.used_at.is_(None))  # type: ignore[union-attr]
        .values(used_at=now)
    )
    if used.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        raise Unauthenticated("challenge already used", code="ChallengeUsed")
    action_log.record(
        session,
        member=challenge.address,
        action="auth.login",
        result=action_log.OK,
        source_ip=source_ip,
        target=challenge_id,
    )
    session.commit()
    token, token_expires = rt.tokens.issue(challenge.address)
    return challenge.address, TokenOut(access_token=token, expires_at=token_expires)


def create_api_key(
    *,
    session: Session,
    address: str,
    name: str,
    expires_at: datetime | None,
    source_ip: str | None = None,
    user: StaffRef | None = None,
) -> ApiKeyCreated:
    """A new key for `address`, valid until `expires_at` (never, if None); made by a staff
    `user`, the key is that user's and may do only what the user may."""
    if expires_at is not None:
        if expires_at.tzinfo is None:
            raise InvalidInput(
                "expires_at needs a time zone (e.g. 2027-01-31T00:00:00Z)", code="NaiveDateTime"
            )
        if expires_at <= datetime.now(UTC):
            raise InvalidInput(
                "expires_at is in the past: an API key must expire in the future",
                code="ExpiryInPast",
                details={"expires_at": expires_at.isoformat(timespec="seconds")},
            )
    row, created = new_key(address=address, name=name, expires_at=expires_at)
    row.user_id = user.id if user is not None else None
    session.add(row)
    action_log.record(
        session,
        member=address,
        user=user.login if user is not None else None,
        action="api_key.create",
        result=action_log.OK,
        source_ip=source_ip,
        target=row.id,
        details={"name": name, "expires_at": expires_at.isoformat() if expires_at else None},
    )
    session.commit()
    return created


def new_key(
    *, address: str, name: str, expires_at: datetime | None
) -> tuple[ApiKey, ApiKeyCreated]:
    """The row to store for a new key of `address` and the answer that shows the key once."""
    key_id, key, secret_hash = new_api_key()
    row = ApiKey(
        id=key_id,
        address=address.lower(),
        name=name,
        secret_hash=secret_hash,
        expires_at=expires_at,
    )
    return row, ApiKeyCreated(id=key_id, name=name, key=key, expires_at=expires_at)


def _sees_key(me: Principal, key: ApiKey) -> bool:
    """A staff user manages its own keys; an administrator, and the member itself, all of the
    member's."""
    if key.address != me.address:
        return False
    return me.may(Permission.ADMINISTER) or (me.user is not None and key.user_id == me.user.id)


def list_api_keys(*, session: Session, me: Principal) -> list[ApiKey]:
    keys = session.exec(select(ApiKey).where(ApiKey.address == me.address)).all()
    return [k for k in keys if _sees_key(me, k)]


def revoke_api_key(*, session: Session, me: Principal, key_id: str) -> None:
    key = session.get(ApiKey, key_id)
    if key is None or not _sees_key(me, key):
        raise NotFound(f"no API key {key_id}")
    if key.revoked_at is None:
        key.revoked_at = datetime.now(UTC)
        session.add(key)
        action_log.record(
            session,
            member=me.address,
            user=me.login,
            action="api_key.revoke",
            result=action_log.OK,
            source_ip=me.source_ip,
            target=key_id,
        )
        session.commit()


def logout(*, session: Session, me: Principal) -> None:
    """Put the caller's bearer token on the denylist until it would have expired anyway."""
    if me.token is None:
        raise Forbidden("only a login (a bearer token) can log out", code="LoginRequired")
    if session.get(RevokedToken, me.token.jti) is None:
        session.add(RevokedToken(jti=me.token.jti, expires_at=me.token.expires_at))
        action_log.record(
            session,
            member=me.address,
            user=me.login,
            action="auth.logout",
            result=action_log.OK,
            source_ip=me.source_ip,
            target=me.token.jti,
        )
        session.commit()


def login_failed(
    session: Session, *, member: str | None, source_ip: str, exc: Unauthenticated
) -> None:
    """A refused login, in the action log (its own transaction: the login wrote nothing)."""
    session.rollback()
    action_log.record(
        session,
        member=member,
        action="auth.login",
        result=action_log.FAILED,
        source_ip=source_ip,
        details={"code": exc.code},
    )
    session.commit()


def purge_expired(*, session: Session, now: datetime) -> dict[str, int]:
    """Delete challenges past their expiry (used or not) and denylist entries whose tokens
    have expired (an expired token is refused on its own)."""
    challenges = session.execute(
        delete(LoginChallenge).where(LoginChallenge.expires_at < now)  # type: ignore[arg-type]
    )
    tokens = session.execute(
        delete(RevokedToken).where(RevokedToken.expires_at < now)  # type: ignore[arg-type]
    )
    session.commit()
    return {
        "challenges": int(challenges.rowcount),  # type: ignore[attr-defined]
        "revoked_tokens": int(tokens.rowcount),  # type: ignore[attr-defined]
    }
