"""Refusals on console pages: the same errors the API answers with JSON render as a page with
the same status and code and the message a person reads, never a stack trace. A lost session
goes back to the login form."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from backend.api.errors import status_of
from backend.blobstore import BlobStoreError
from backend.console.forms import AlreadySent
from backend.console.i18n import N_
from backend.console.render import PREFIX, render
from backend.console.session import COOKIE, clear_session
from backend.errors import DomainError, Unauthenticated, from_revert
from chain.errors import ChainError, ContractRevert

log = logging.getLogger(__name__)

Handler = Callable[[Request, Any], Awaitable[Response]]
ApiHandler = Callable[[Request, Any], Response | Awaitable[Response]]


def is_console(request: Request) -> bool:
    path = request.url.path
    return path == PREFIX or path.startswith(f"{PREFIX}/")


def error_page(
    request: Request, *, status: int, code: str, message: str, details: Any = None
) -> Response:
    return render(
        request,
        "error.html",
        {"status": status, "code": code, "message": message, "details": details},
        status_code=status,
    )


def _field_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    """Each refused form field by name, with pydantic's reason."""
    out = []
    for e in exc.errors():
        loc = [str(p) for p in e.get("loc", ()) if p not in ("body", "query", "path", "form")]
        out.append({"field": ".".join(loc) or "form", "msg": str(e.get("msg", ""))})
    return out


async def _console_response(request: Request, exc: Exception) -> Response:
    if isinstance(exc, AlreadySent):
        return render(
            request,
            "common/already_sent.html",
            {"request_id": exc.request_id, "status": exc.status},
        )
    if isinstance(exc, ContractRevert):
        exc = from_revert(exc)
    if isinstance(exc, Unauthenticated):
        why = (exc.details or {}).get("reason") or exc.code  # LoginNeeded carries the cause
        target = f"{PREFIX}/login?next={quote(request.url.path)}&reason={quote(str(why))}"
        response = Response(status_code=303, headers={"Location": target})
        if request.cookies.get(COOKIE):
            clear_session(response)
        return response
    if isinstance(exc, DomainError) and exc.code == "PasswordChangeRequired":
        # a one-time password: the staff user chooses its own before any other page
        target = f"{PREFIX}/password?next={quote(request.url.path)}"
        return Response(status_code=303, headers={"Location": target})
    if isinstance(exc, DomainError):
        return error_page(
            request, status=status_of(exc), code=exc.code, message=exc.message, details=exc.details
        )
    if isinstance(exc, RequestValidationError):
        return error_page(
            request,
            status=422,
            code="ValidationError",
            message=N_("Some fields of the form are missing or not valid."),
            details={"fields": _field_errors(exc)},
        )
    if isinstance(exc, StarletteHTTPException):
        code = {404: "NotFound", 405: "MethodNotAllowed"}.get(exc.status_code, "HttpError")
        message = N_("There is no such page.") if exc.status_code == 404 else str(exc.detail)
        return error_page(request, status=exc.status_code, code=code, message=message)
    if isinstance(exc, BlobStoreError):
        log.warning("document store unavailable: %s", exc)
        return error_page(
            request,
            status=503,
            code="DocumentStoreUnavailable",
            message=N_("the document store is unreachable; retry shortly"),
        )
    if isinstance(exc, (OperationalError, PoolTimeout)):
        log.warning("database unavailable: %s", exc)
        return error_page(
            request,
            status=503,
            code="DatabaseUnavailable",
            message=N_("the database is busy or unreachable; retry shortly"),
        )
    if isinstance(exc, ChainError):
        log.warning("chain error: %s", exc)
        return error_page(request, status=503, code="ChainUnavailable", message=str(exc))
    raise exc


HANDLED: tuple[type[Exception], ...] = (
    AlreadySent,
    DomainError,
    ContractRevert,
    ChainError,
    BlobStoreError,
    OperationalError,
    PoolTimeout,
    RequestValidationError,
    StarletteHTTPException,
)


def install(app: FastAPI) -> None:
    """Wrap the API's handlers: a console path gets a page, every other path what it got."""
    for cls in HANDLED:
        api_handler: ApiHandler | None = app.exception_handlers.get(cls)

        def make(inner: ApiHandler | None) -> Handler:
            async def handle(request: Request, exc: Any) -> Response:
                if is_console(request) or inner is None:
                    return await _console_response(request, exc)
                answer = inner(request, exc)
                return answer if isinstance(answer, Response) else await answer

            return handle

        app.add_exception_handler(cls, make(api_handler))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        # Starlette's ServerErrorMiddleware: logged with its trace, the page shows none
        log.error("console page failed", exc_info=exc)
        if not is_console(request):
            return Response("Internal Server Error", status_code=500)
        return error_page(
            request,
            status=500,
            code="InternalError",
            message=N_("Something went wrong on our side; the error is logged."),
        )
