"""Form values as the services take them: yuan typed by a person to fen, a percentage to
basis points, and a schema built from form fields whose refusal names the fields in words."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from pydantic import BaseModel, ValidationError

from backend.api.deps import MirrorDep, SessionDep, runtime_of
from backend.errors import InvalidInput
from backend.services.context import WriteContext

M = TypeVar("M", bound=BaseModel)
_MONEY = re.compile(r"^\d+(\.\d{1,2})?$")


def yuan_to_fen(value: str, *, field: str) -> int:
    """`"1,234.5"` (yuan, ¥ and separators allowed) → `123450` fen."""
    text = value.strip().replace(",", "").replace("\uff0c", "").lstrip("¥￥").strip()
    if not _MONEY.fullmatch(text):
        raise InvalidInput(
            f"{field}: {value!r} is not an amount in yuan (like 1234.50)",
            details={"fields": [{"field": field, "msg": "an amount in yuan, like 1234.50"}]},
        )
    fen = int(Decimal(text) * 100)
    if fen <= 0:
        raise InvalidInput(
            f"{field}: the amount must be more than ¥0.00",
            details={"fields": [{"field": field, "msg": "more than ¥0.00"}]},
        )
    return fen


def percent_to_bps(value: str, *, field: str) -> int:
    """`"4.25"` (percent a year) → `425` basis points."""
    text = value.strip().rstrip("%").strip()
    try:
        bps = Decimal(text) * 100
    except InvalidOperation:
        bps = Decimal(-1)
    if bps < 0 or bps != bps.to_integral_value():
        raise InvalidInput(
            f"{field}: {value!r} is not a yearly rate in percent (like 4.25)",
            details={"fields": [{"field": field, "msg": "a rate in percent, like 4.25"}]},
        )
    return int(bps)


def build(model: type[M], **fields: Any) -> M:
    """`model(**fields)`; its refusal as InvalidInput naming each field (422 page)."""
    try:
        return model(**fields)
    except ValidationError as exc:
        named = [
            {
                "field": ".".join(str(p) for p in e["loc"]) or "form",
                "msg": str(e["msg"]).removeprefix("Value error, "),
            }
            for e in exc.errors()
        ]
        message = "; ".join(f"{n['field']}: {n['msg']}" for n in named)
        raise InvalidInput(message, details={"fields": named}) from exc


async def console_write(
    request: Request, session: SessionDep, mirror: MirrorDep
) -> AsyncIterator[WriteContext]:
    """A console write waits until mined and visible (the page shows the result), holding one
    of the process's waiting slots as `?wait=true` does."""
    limiter = runtime_of(request).limiter
    limiter.wait_slot()
    try:
        yield WriteContext(
            rt=runtime_of(request), session=session, mirror=mirror, idem=None, wait=True
        )
    finally:
        limiter.release_wait_slot()


ConsoleWrite = Annotated[WriteContext, Depends(console_write)]
