"""Challenge login and API keys."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from sqlalchemy import update
from sqlmodel import Session, select

from backend.errors import NotFound, Unauthenticated
from backend.models import ApiKey, LoginChallenge
from backend.runtime import Runtime
from backend.schemas import ApiKeyCreated, ChallengeOut, TokenOut
from backend.security import challenge_expiry, challenge_message, new_api_key, recover_signer
from backend.services.context import Principal


def create_challenge(*, rt: Runtime, session: Session, address: str) -> ChallengeOut:
    expires = challenge_expiry(rt.settings)
    cid = secrets.token_hex(16)
    message = challenge_message(address=address, nonce=cid, expires_at=expires)
    session.add(
        LoginChallenge(id=cid, address=address.lower(), message=message, expires_at=expires)
    )
    session.commit()
    return ChallengeOut(challenge_id=cid, message=message, expires_at=expires)


def login(
    *, rt: Runtime, session: Session, challenge_id: str, signature: str
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
    signer = recover_signer(challenge.message, signature)
    if signer.lower() != challenge.address:
        raise Unauthenticated("signature is not by the challenged address", code="BadSignature")
    used = session.execute(
        update(LoginChallenge)
        .where(LoginChallenge.id == challenge_id)  # type: ignore[arg-type]
        .where(LoginChallenge.used_at.is_(None))  # type: ignore[union-attr]
        .values(used_at=now)
    )
    session.commit()
    if used.rowcount != 1:  # type: ignore[attr-defined]
        raise Unauthenticated("challenge already used", code="ChallengeUsed")
    token, token_expires = rt.tokens.issue(challenge.address)
    return challenge.address, TokenOut(access_token=token, expires_at=token_expires)


def create_api_key(*, session: Session, address: str, name: str) -> ApiKeyCreated:
    key_id, key, secret_hash = new_api_key()
    session.add(ApiKey(id=key_id, address=address.lower(), name=name, secret_hash=secret_hash))
    session.commit()
    return ApiKeyCreated(id=key_id, name=name, key=key)


def list_api_keys(*, session: Session, me: Principal) -> list[ApiKey]:
    return list(session.exec(select(ApiKey).where(ApiKey.address == me.address)).all())


def revoke_api_key(*, session: Session, me: Principal, key_id: str) -> None:
    key = session.get(ApiKey, key_id)
    if key is None or key.address != me.address:
        raise NotFound(f"no API key {key_id}")
    if key.revoked_at is None:
        key.revoked_at = datetime.now(UTC)
        session.add(key)
        session.commit()
