"""The access log and the request id: one JSON line per request on the `scf.access` logger,
and the id in `X-Request-ID` (a client's own id is kept when well-formed)."""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from indexer.logs import JsonFormatter

log = logging.getLogger("scf.access")

REQUEST_ID_HEADER = "X-Request-ID"
#: A client-supplied id is kept if it looks like an id (a UUID, a trace id, …), else replaced:
#: it goes into log lines and must not forge them.
_WELL_FORMED = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}")


def request_id(supplied: str | None) -> str:
    """The client's id if well-formed, else a new one."""
    if supplied is not None and _WELL_FORMED.fullmatch(supplied):
        return supplied
    return uuid.uuid4().hex


def json_lines_by_default() -> None:
    """Give the access logger a JSON handler of its own unless one was configured."""
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False


class AccessLog:
    """Outermost middleware: times the request, sets its id, logs method, path, status,
    duration, the member (when authenticated: `deps.get_current_member` records it in the
    request state) and the id."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        supplied = headers.get(REQUEST_ID_HEADER.lower().encode())
        rid = request_id(supplied.decode("latin-1") if supplied is not None else None)
        state = scope.setdefault("state", {})
        state["request_id"] = rid
        status = 500  # unless the app answers
        start = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = [
                    *message.get("headers", []),
                    (REQUEST_ID_HEADER.encode(), rid.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round((time.perf_counter() - start) * 1000, 3),
                    "member": state.get("member"),
                    "request_id": rid,
                },
            )
