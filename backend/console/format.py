"""Jinja filters the console's pages show values with: money from fen, dates, and addresses
shortened with the member's name beside them (the full address one click away)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from markupsafe import Markup, escape

FEN_PER_YUAN = 100


def money(fen: int | None, currency: str = "¥") -> str:
    """`1234567` fen → `¥12,345.67`; a negative amount keeps its sign before the symbol."""
    if fen is None:
        return "—"
    value = int(fen)
    sign = "-" if value < 0 else ""
    yuan, cents = divmod(abs(value), FEN_PER_YUAN)
    return f"{sign}{currency}{yuan:,}.{cents:02d}"


def as_date(value: date | datetime | str | int | None) -> str:
    """An ISO date (a datetime or a unix timestamp shows its UTC day)."""
    if value is None or value == "":
        return "—"
    if isinstance(value, int):
        value = datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return str(value)
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.date().isoformat()
    return value.isoformat()


def as_datetime(value: datetime | str | int | None) -> str:
    """A moment to the minute, in UTC."""
    if value is None or value == "":
        return "—"
    if isinstance(value, int):
        value = datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return str(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def short(address: str) -> str:
    """`0x1234…abcd`: enough to tell two addresses apart at a glance."""
    if len(address) < 14:
        return address
    return f"{address[:6]}…{address[-4:]}"


def address(value: str | None, names: dict[str, str]) -> Markup:
    """The member's name and the shortened address; the full one opens on click (a
    `<details>`, reachable by keyboard)."""
    if not value:
        return Markup("—")
    name = names.get(value.lower())
    label = f"{escape(name)} " if name else ""
    return Markup(
        '<details class="addr"><summary title="{full}">{label}<code>{short}</code></summary>'
        '<code class="full">{full}</code></details>'
    ).format(label=Markup(label), short=short(value), full=value)


def percent(bps: int | float | None) -> str:
    """Basis points as a percentage: `425` → `4.25%`."""
    if bps is None:
        return "—"
    return f"{float(bps) / 100:.2f}%"


#: ledger event arguments that are amounts of money (fen), shown as money in the explorer
MONEY_ARGS = frozenset(
    {
        "faceValue",
        "amount",
        "amounts",
        "price",
        "value",
        "creditUsed",
        "creditLimit",
        "totalRepaid",
        "outstanding",
        "remainder",
        "paid",
    }
)


def event_arg(name: str, value: Any) -> str:
    """A ledger event's argument as a person reads it: amounts as money, lists joined."""
    if name in MONEY_ARGS and isinstance(value, int):
        return money(value)
    if name in MONEY_ARGS and isinstance(value, list):
        return ", ".join(money(v) if isinstance(v, int) else str(v) for v in value)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


FILTERS: dict[str, Any] = {
    "money": money,
    "date": as_date,
    "datetime": as_datetime,
    "short": short,
    "percent": percent,
}
