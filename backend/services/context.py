"""What a service is given besides its arguments: the authenticated member, the write
context (runtime, sessions, Idempotency-Key, wait) and the idempotency rules. Built by the API's
dependencies; free of HTTP."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam
from sqlmodel import Session, select

from backend.errors import InvalidInput
from backend.models import TxRequest
from backend.runtime import Runtime
from backend.security import TokenClaims
from chain.enums import Role


@dataclass(frozen=True)
class Principal:
    """The authenticated member as the on-chain registry (through the mirror) knows it."""

    address: str  # lower-case
    roles: Role
    entity_id: str
    credit_limit: int
    credit_used: int
    token: TokenClaims | None  # None: authenticated by an API key
    suspended: bool = False  # let through only where a suspended member may act
    source_ip: str | None = None  # the client's address, for the action log

    @property
    def via_api_key(self) -> bool:
        return self.token is None

    def has(self, role: Role) -> bool:
        return bool(self.roles & role)

    @property
    def sees_all(self) -> bool:
        return self.has(Role.AUDITOR) or self.has(Role.REGULATOR)


@dataclass(frozen=True)
class Idem:
    """An Idempotency-Key and the hash of the request it was first used with."""

    key: str
    request_hash: str


@dataclass(frozen=True)
class WriteContext:
    """What every write takes from the request: the runtime, both sessions, the
    Idempotency-Key and whether to wait for the mirror."""

    rt: Runtime
    session: Session
    mirror: Session
    idem: Idem | None
    wait: bool


class IdempotentReplay(Exception):
    """A write repeats an Idempotency-Key already used by this member: answer with the request
    it stands for (the app's handler renders it), before any check that its own effect on the
    ledger would now fail."""

    def __init__(self, request_id: str) -> None:
        super().__init__(request_id)
        self.request_id = request_id


_BY_KEY = select(TxRequest).where(
    TxRequest.member == bindparam("member"), TxRequest.idempotency_key == bindparam("key")
)


def by_key(session: Session, member: str, key: str) -> TxRequest | None:
    """The request `member` made with Idempotency-Key `key`, if any."""
    return session.exec(_BY_KEY, params={"member": member, "key": key}).first()


def require_same_request(existing: TxRequest, idem: Idem) -> None:
    """A key names one request: the same key with another body is refused."""
    if existing.request_hash != idem.request_hash:
        raise InvalidInput(
            "this Idempotency-Key was used for a different request",
            code="IdempotencyKeyReused",
            details={"transaction": existing.id},
        )
