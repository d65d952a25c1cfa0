"""The contracts' roles and status enums, mirrored for Python (values must match the Solidity)."""

from __future__ import annotations

from enum import IntEnum, IntFlag, nonmember


class Role(IntFlag):
    """Member roles: bits of one byte, as in `contracts/src/Roles.sol`."""

    OPERATOR = 1 << 0
    CORE_ENTERPRISE = 1 << 1
    SUPPLIER = 1 << 2
    FINANCIER = 1 << 3
    REGULATOR = 1 << 4
    AUDITOR = 1 << 5

    ALL = (1 << 6) - 1
    HOLDER = SUPPLIER | FINANCIER


class MemberStatus(IntEnum):
    NONE = 0
    ACTIVE = 1
    SUSPENDED = 2


class RootStatus(IntEnum):
    NONE = 0
    REGISTERED = 1
    CONFIRMED = 2
    REJECTED = 3
    CANCELLED = 4
    OVERDUE = 5
    SETTLED = 6
    REFUSED = 7
    CLOSED = 8

    #: confirmed and not settled: money is owed on it
    PAYABLE = nonmember((CONFIRMED, OVERDUE))


class PieceStatus(IntEnum):
    """`PAID` is not stored on chain: an active piece is paid once paid-out equals its amount."""

    NONE = 0
    PENDING = 1
    ACTIVE = 2
    SPLIT = 3
    VOID = 4


class OfferStatus(IntEnum):
    NONE = 0
    OPEN = 1
    ACCEPTED = 2
    CANCELLED = 3
