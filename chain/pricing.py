"""Discount pricing on the 360-day basis used in Chinese factoring, in integer minor units."""

from __future__ import annotations

SECONDS_PER_DAY = 86_400
BASIS_POINTS = 10_000
DAY_COUNT_BASIS = 360


def days_to_maturity(*, now: int, due_date: int) -> int:
    """Whole days from `now` to the due date, counting a started day as a day (never negative)."""
    return max(0, -(-(due_date - now) // SECONDS_PER_DAY))


def discount_price(amount: int, *, rate_bps: int, days: int) -> int:
    """amount - floor(amount * rate_bps * days / (10 000 * 360)); never a float."""
    if amount <= 0 or rate_bps < 0 or days < 0:
        raise ValueError("amount must be positive; rate and days must not be negative")
    discount = amount * rate_bps * days // (BASIS_POINTS * DAY_COUNT_BASIS)
    return amount - min(discount, amount)


def entitlement(amount: int, *, repaid: int, face_value: int) -> int:
    """What a live piece of `amount` is owed once `repaid` of the root's face value is in:
    amount * repaid / face, rounded down (the contract's `_entitlement`)."""
    return amount * repaid // face_value


def implied_rate_bps(amount: int, *, price: int, days: int) -> int:
    """The annual rate, in bps rounded up, at which `price` discounts `amount` over `days` on
    the 360-day basis: the inverse of `discount_price` (0 when no day is left)."""
    if days <= 0 or amount <= 0:
        return 0
    discount = amount - price
    return -(-discount * BASIS_POINTS * DAY_COUNT_BASIS // (amount * days))
