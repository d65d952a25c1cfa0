"""Form values as the services take them: yuan typed by a person to fen, a percentage to
basis points, and a schema built from form fields whose refusal names the fields in words."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from pydantic import BaseModel, ValidationError

from backend.api.deps import MirrorDep, SessionDep, runtime_of
from backend.console.session import CSRF_FIELD, AnyViewer
from backend.errors import InvalidInput
from backend.services.context import Idem, WriteContext, by_key, require_same_request

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


IDEM_FIELD = "idem"


class AlreadySent(Exception):
    """The same form came twice (a double click, a reload): the first one's request stands,
    and the page shows it instead of sending another transaction."""

    def __init__(self, request_id: str, status: str) -> None:
        super().__init__(request_id)
        self.request_id, self.status = request_id, status


async def form_idem(request: Request) -> Idem | None:
    """The key every console form carries (`csrf_field` adds it), as an Idempotency-Key over
    the form's fields, so the same form sent twice sends one transaction."""
    form = await request.form()  # parsed once: the CSRF check read it already
    key = form.get(IDEM_FIELD)
    if not isinstance(key, str) or not key:
        return None
    digest = hashlib.sha256()
    parts = [request.method, request.url.path]
    for name, value in sorted(form.multi_items(), key=lambda kv: kv[0]):
        if name == CSRF_FIELD:
            continue  # the same form from another page load carries another
        shown = value if isinstance(value, str) else f"{value.filename}:{value.size}"
        parts.append(f"{name}={shown}")
    for part in parts:
        data = part.encode()
        digest.update(len(data).to_bytes(8, "big") + data)
    return Idem(key=f"console/{key}", request_hash=digest.hexdigest())


def console_write(
    request: Request,
    seen: AnyViewer,
    session: SessionDep,
    mirror: MirrorDep,
    idem: Annotated[Idem | None, Depends(form_idem)],
) -> Iterator[WriteContext]:
    """A console write waits until mined and visible (the page shows the result), holding one
    of the process's waiting slots as `?wait=true` does; a form sent again is not sent twice."""
    if idem is not None:
        existing = by_key(session, seen.member.address, idem.key)
        if existing is not None:
            require_same_request(existing, idem)
            raise AlreadySent(existing.id, str(existing.status))
    limiter = runtime_of(request).limiter
    limiter.wait_slot()
    try:
        yield WriteContext(
            rt=runtime_of(request), session=session, mirror=mirror, idem=idem, wait=True
        )
    finally:
        limiter.release_wait_slot()


ConsoleWrite = Annotated[WriteContext, Depends(console_write)]
