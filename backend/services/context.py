"""What a service is given besides its arguments: the authenticated member, the write
context (runtime, sessions, Idempotency-Key, wait) and the idempotency rules. Built by the API's
dependencies; free of HTTP."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam
from sqlmodel import Session, select

from backend.errors import Forbidden, InvalidInput
from backend.models import TxRequest
from backend.permissions import MONEY, Permission
from backend.runtime import Runtime
from backend.security import TokenClaims
from chain.enums import Role


@dataclass(frozen=True)
class StaffRef:
    """The staff user behind a request (logged in, or the owner of the API key used)."""

    id: str
    login: str
    display_name: str
    permissions: frozenset[str]
    amount_limit: int | None  # fen; None: no limit
    must_change_password: bool = False


def _money(amount: int) -> str:
    return f"{amount // 100:,}.{amount % 100:02d} yuan"


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
    #: the person acting; None: the member itself (its own key's login, or a key made by it),
    #: which may do all its roles allow
    user: StaffRef | None = None

    @property
    def via_api_key(self) -> bool:
        return self.token is None

    @property
    def login(self) -> str | None:
        """The staff user's login name, for the action log (None: the member itself)."""
        return self.user.login if self.user is not None else None

    def may(self, permission: Permission) -> bool:
        return self.user is None or permission in self.user.permissions

    def require(self, permission: Permission, *, amount: int | None = None) -> None:
        """Refuse a staff user without `permission`, or above its amount limit for money."""
        user = self.user
        if user is None:
            return
        if permission not in user.permissions:
            raise Forbidden(
                f"{user.display_name} ({user.login}) does not have the permission {permission}",
                code="MissingPermission",
                details={"permission": str(permission), "user": user.login},
            )
        limit = user.amount_limit
        if permission in MONEY and amount is not None and limit is not None and amount > limit:
            raise Forbidden(
                f"{user.display_name} ({user.login}) may commit up to {_money(limit)}; "
                f"this is {_money(amount)}",
                code="AmountAboveLimit",
                details={"user": user.login, "amount": amount, "amount_limit": limit},
            )

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
