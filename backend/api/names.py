"""Names beside addresses: every JSON answer that shows a member's address shows its name.

One rule in one place, for every route: in a JSON object, a string field holding an address that
the member directory knows gets a sibling `<field>_name` (`name` for a field called `address`).
Only addresses the answer already shows are named, so an answer reveals no name its reader could
not already see the address of. Left alone: lists of bare addresses, a ledger event's `args`, an
invoice's `document` and a request's `params` (kept as recorded), streamed answers (large
exports), and CSV and PDF answers (the statements name parties with `with_names` themselves; the
audit exports carry addresses)."""

from __future__ import annotations

import json
import re
import time
from typing import Any
from weakref import WeakKeyDictionary

import anyio.to_thread
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.services import directory

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
#: The directory is small (one row a member) and changes seldom: each process holds it for this
#: long, so a renamed member reads under its new name everywhere within seconds.
NAMES_TTL_SECONDS = 5.0
_cached: WeakKeyDictionary[Engine, tuple[float, int, dict[str, str]]] = WeakKeyDictionary()
#: Objects kept exactly as recorded: a ledger event's arguments, a request's parameters, an
#: invoice's document (its canonical form is what the ledger's hash covers).
_VERBATIM = frozenset({"args", "params", "document"})


def addresses(value: Any, found: set[str]) -> None:
    """Add to `found` the lower-case addresses that `value`'s address fields hold."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, str) and _ADDRESS.fullmatch(item):
                found.add(item.lower())
            elif key not in _VERBATIM:
                addresses(item, found)
    elif isinstance(value, list):
        for item in value:
            addresses(item, found)


def _name_key(key: str) -> str:
    return "name" if key == "address" else f"{key}_name"


def with_names(value: Any, names: dict[str, str]) -> Any:
    """`value` with `<field>_name` beside each address field whose name is known."""
    if isinstance(value, list):
        return [with_names(item, names) for item in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        out[key] = item if key in _VERBATIM else with_names(item, names)
        if isinstance(item, str) and _ADDRESS.fullmatch(item):
            named = names.get(item.lower())
            if named is not None and _name_key(key) not in value:
                out[_name_key(key)] = named
    return out


class NamesBesideAddresses:
    """ASGI middleware: buffers a 2xx JSON answer, names its addresses, sends it on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def buffered(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers", []))
                is_json = headers.get(b"content-type", b"").startswith(b"application/json")
                # a streamed answer (no length: a large export) streams on, unnamed
                whole = b"content-length" in headers
                if is_json and whole and 200 <= int(message["status"]) < 300:
                    start = message
                    return
                await send(message)
            elif start is None:
                await send(message)
            else:
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    body = await self._named(scope, b"".join(chunks))
                    kept = [(k, v) for k, v in start["headers"] if k != b"content-length"]
                    kept.append((b"content-length", str(len(body)).encode()))
                    await send({**start, "headers": kept})
                    await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, buffered)

    async def _named(self, scope: Scope, body: bytes) -> bytes:
        try:
            data = json.loads(body)
        except ValueError:
            return body
        found: set[str] = set()
        addresses(data, found)
        runtime = getattr(scope["app"].state, "runtime", None)
        if not found or runtime is None:
            return body
        cached = _cached.get(runtime.engine)
        if (
            cached is None
            or cached[1] != directory.generation
            or time.monotonic() - cached[0] > NAMES_TTL_SECONDS
        ):
            seen = (time.monotonic(), directory.generation)

            def load() -> dict[str, str]:
                with Session(runtime.engine) as session:
                    return directory.all_names(session)

            cached = (*seen, await anyio.to_thread.run_sync(load))
            _cached[runtime.engine] = cached
        known = cached[2]
        names = {a: known[a] for a in found if a in known}
        if not names:
            return body
        return json.dumps(
            with_names(data, names), ensure_ascii=False, separators=(",", ":")
        ).encode()
