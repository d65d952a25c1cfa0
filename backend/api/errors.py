"""Domain errors, chain errors and request errors as JSON HTTP answers: each error class maps
to its status here, once; every answer is `{"code", "message", "details"}`."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from backend.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    RequestTooLarge,
    TooManyRequests,
    Unauthenticated,
    Unavailable,
    UnsupportedMediaType,
    from_revert,
    is_json,
)
from chain.errors import ChainError, ContractRevert

log = logging.getLogger(__name__)

STATUS: dict[type[DomainError], int] = {
    InvalidInput: 422,
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    RequestTooLarge: 413,
    UnsupportedMediaType: 415,
    TooManyRequests: 429,
    Unavailable: 503,
}


def status_of(exc: DomainError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def _body(code: str, message: str, details: Any) -> dict[str, Any]:
    return {"code": code, "message": message, "details": details}


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {
        "description": desc,
        "content": {
            "application/json": {"example": _body(code, desc, {})},
        },
    }
    for status, code, desc in (
        (401, "Unauthenticated", "No valid bearer token or API key"),
        (403, "Forbidden", "The member may not do this"),
        (404, "NotFound", "Unknown, or not visible to this member"),
        (409, "ReceivablesPieceLocked", "The ledger refuses (contract error name)"),
        (422, "ValidationError", "The request is malformed or out of bounds"),
    )
}


def error_response(exc: DomainError) -> JSONResponse:
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooManyRequests) else None
    return JSONResponse(_body(exc.code, exc.message, exc.details), status_of(exc), headers=headers)


def install_handlers(app: FastAPI) -> None:
    """Every error leaves the API as `{"code", "message", "details"}`."""

    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(ContractRevert)
    async def _revert(_: Request, exc: ContractRevert) -> JSONResponse:
        return error_response(from_revert(exc))

    @app.exception_handler(ChainError)
    async def _chain(_: Request, exc: ChainError) -> JSONResponse:
        log.warning("chain error: %s", exc)
        return JSONResponse(_body("ChainUnavailable", str(exc), {}), 503)

    @app.exception_handler(OperationalError)
    @app.exception_handler(PoolTimeout)
    async def _database(_: Request, exc: Exception) -> JSONResponse:
        # connections exhausted (ours or the server's max_connections) or the server away:
        # nothing was written, and the same request may be sent again
        log.warning("database unavailable: %s", exc)
        return JSONResponse(
            _body("DatabaseUnavailable", "the database is busy or unreachable; retry shortly", {}),
            503,
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        content_type = request.headers.get("content-type")
        body_refused = any(tuple(e.get("loc", ()))[:1] == ("body",) for e in exc.errors())
        if body_refused and content_type and not is_json(content_type):
            # FastAPI reads a body of another type as bytes, then finds no object in it
            return error_response(UnsupportedMediaType(content_type))
        details = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
            for e in exc.errors()
        ]
        return JSONResponse(
            _body("ValidationError", "request validation failed", {"errors": details}), 422
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "NotFound", 405: "MethodNotAllowed", 401: "Unauthenticated"}.get(
            exc.status_code, "HttpError"
        )
        return JSONResponse(_body(code, str(exc.detail), {}), exc.status_code)
